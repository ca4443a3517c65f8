package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of this package's kinds.
var GroupVersion = schema.GroupVersion{Group: "status.ocm.kubestellar.io", Version: "v1alpha1"}

// AddToScheme adds WorkStatus to a scheme.
func AddToScheme(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &WorkStatus{}, &WorkStatusList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}

// WorkStatus carries the status of one workload object from one managed cluster.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced
type WorkStatus struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   WorkStatusSpec   `json:"spec,omitempty"`
	Status WorkStatusStatus `json:"status,omitempty"`
}

// WorkStatusSpec names the workload object.
type WorkStatusSpec struct {
	// +optional
	SourceRef SourceRef `json:"sourceRef,omitempty"`
}

// SourceRef identifies a workload object by group, version, kind, namespace and name.
type SourceRef struct {
	Group   string `json:"group,omitempty"`
	Version string `json:"version,omitempty"`
	Kind    string `json:"kind,omitempty"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name,omitempty"`
}

// WorkStatusStatus is the object's status, as the managed cluster reported it.
type WorkStatusStatus struct {
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Status *runtime.RawExtension `json:"status,omitempty"`
}

// WorkStatusList is a list of WorkStatuses.
//
// +kubebuilder:object:root=true
type WorkStatusList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []WorkStatus `json:"items"`
}
