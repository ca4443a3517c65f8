// Package v1alpha1 holds the probe.kubestellar.io API: a Probe asks the operator to check that an
// endpoint answers, and reports what it saw.
//
// +kubebuilder:object:generate=true
// +groupName=probe.kubestellar.io
package v1alpha1
