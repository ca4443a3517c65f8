// Package control names the control.kubestellar.io API group; each version package below it
// (v1alpha1, ...) imports it, so a generator run over one version needs this package too.
package control

// GroupName is the API group of every version of the control API.
const GroupName = "control.kubestellar.io"
