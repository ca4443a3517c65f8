// Package crd carries the CustomResourceDefinitions inside the controller-manager binary, which
// installs them when they are missing.
package crd

import (
	"embed"
	"io/fs"
)

//go:embed files/*.yaml
var files embed.FS

// Files returns the CRD manifests by file name.
func Files() (map[string][]byte, error) {
	entries, err := fs.ReadDir(files, "files")
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(entries))
	for _, entry := range entries {
		data, err := files.ReadFile("files/" + entry.Name())
		if err != nil {
			return nil, err
		}
		out[entry.Name()] = data
	}
	return out, nil
}
