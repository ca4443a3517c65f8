// Command probe-operator watches Probes (a stand-in: it prints its version and exits).
package main

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"

	probev1alpha1 "github.com/kubestellar/probe-operator/api/v1alpha1"
)

var version = "unknown" // set at build time

// +kubebuilder:rbac:groups=probe.kubestellar.io,resources=probes,verbs=get;list;watch
// +kubebuilder:rbac:groups=probe.kubestellar.io,resources=probes/status,verbs=get;update;patch

func main() {
	scheme := runtime.NewScheme()
	if err := probev1alpha1.AddToScheme(scheme); err != nil {
		panic(err)
	}
	fmt.Println("probe-operator", version)
}
