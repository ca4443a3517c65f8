// Command ocm-status-addon runs the status addon's controller.
package main

import (
	"fmt"
	"os"

	"github.com/kubestellar/ocm-status-addon/pkg/controller"
)

// version is set when the image is built (go_image: -X main.version=...).
var version = "unknown"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("ocm-status-addon", version)
		return
	}
	scheme, err := controller.Scheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for kind := range scheme.AllKnownTypes() {
		fmt.Println(kind.Kind)
	}
}
