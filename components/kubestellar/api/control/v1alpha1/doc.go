// Package v1alpha1 holds the control.kubestellar.io API: which workload objects go to which
// clusters (BindingPolicy), the resolved result (Binding), and how status comes back
// (StatusCollector).
//
// +kubebuilder:object:generate=true
// +groupName=control.kubestellar.io
package v1alpha1
