// Command clusteradm is a stand-in for open-cluster-management's clusteradm: another project's Go
// code, built into the image the ocm PostCreateHook runs (//clusteradm-image:clusteradm).
package main

import (
	"fmt"
	"os"
)

// version is set when the image is built (go_image: -X main.version=...).
var version = "unknown"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("clusteradm", version)
		return
	}
	fmt.Println("clusteradm: join and accept managed clusters (a stand-in)")
}
