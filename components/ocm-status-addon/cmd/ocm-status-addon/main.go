// Command ocm-status-addon runs the status addon's controller.
package main

import (
	"fmt"
	"os"

	"github.com/kubestellar/ocm-status-addon/pkg/controller"
)

func main() {
	scheme, err := controller.Scheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for kind := range scheme.AllKnownTypes() {
		fmt.Println(kind.Kind)
	}
}
