package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the group and version of this package's kinds.
var GroupVersion = schema.GroupVersion{Group: "probe.kubestellar.io", Version: "v1alpha1"}

// AddToScheme adds Probe to a scheme.
func AddToScheme(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion, &Probe{}, &ProbeList{})
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}

// Probe checks that an endpoint answers.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
type Probe struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ProbeSpec   `json:"spec,omitempty"`
	Status ProbeStatus `json:"status,omitempty"`
}

// ProbeSpec says what to check and how often.
type ProbeSpec struct {
	// URL is the endpoint to ask.
	URL string `json:"url"`
	// +optional
	IntervalSeconds int32 `json:"intervalSeconds,omitempty"`
}

// ProbeStatus is what the last check saw.
type ProbeStatus struct {
	// +optional
	LastCode int32 `json:"lastCode,omitempty"`
}

// ProbeList is a list of Probes.
//
// +kubebuilder:object:root=true
type ProbeList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Probe `json:"items"`
}
