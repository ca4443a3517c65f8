// Package v1alpha1 holds the status.ocm.kubestellar.io API: the status of a workload object as
// seen on a managed cluster, collected by the addon agent.
//
// +kubebuilder:object:generate=true
// +groupName=status.ocm.kubestellar.io
package v1alpha1
