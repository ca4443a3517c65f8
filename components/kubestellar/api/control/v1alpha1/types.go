package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BindingPolicy says which workload objects go to which clusters.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=bp
// +kubebuilder:subresource:status
type BindingPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   BindingPolicySpec   `json:"spec,omitempty"`
	Status BindingPolicyStatus `json:"status,omitempty"`
}

// BindingPolicySpec selects clusters and workload objects.
type BindingPolicySpec struct {
	// ClusterSelectors pick the destination clusters; a cluster matching any of them is chosen.
	// +optional
	ClusterSelectors []metav1.LabelSelector `json:"clusterSelectors,omitempty"`

	// Downsync lists the workload objects that go to the chosen clusters.
	// +optional
	Downsync []DownsyncPolicyClause `json:"downsync,omitempty"`

	// WantSingletonReportedState asks for the status of a workload object that goes to exactly
	// one cluster to be copied back into the object itself.
	// +optional
	WantSingletonReportedState bool `json:"wantSingletonReportedState,omitempty"`
}

// DownsyncPolicyClause matches workload objects by API group, resource, namespace and labels.
type DownsyncPolicyClause struct {
	// +optional
	APIGroup *string `json:"apiGroup,omitempty"`
	// +optional
	Resources []string `json:"resources,omitempty"`
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// +optional
	ObjectSelectors []metav1.LabelSelector `json:"objectSelectors,omitempty"`
	// StatusCollectors names the StatusCollectors that summarise the objects' status.
	// +optional
	StatusCollectors []string `json:"statusCollectors,omitempty"`
}

// BindingPolicyStatus reports how far the controller got with the policy.
type BindingPolicyStatus struct {
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BindingPolicyList is a list of BindingPolicies.
//
// +kubebuilder:object:root=true
type BindingPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BindingPolicy `json:"items"`
}

// Binding is what a BindingPolicy resolved to: the exact objects and clusters.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
type Binding struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BindingSpec `json:"spec,omitempty"`
}

// BindingSpec lists the resolved workload objects and destinations.
type BindingSpec struct {
	// +optional
	Workload []ObjectReference `json:"workload,omitempty"`
	// +optional
	Destinations []Destination `json:"destinations,omitempty"`
}

// ObjectReference names one workload object.
type ObjectReference struct {
	Group    string `json:"group"`
	Version  string `json:"version"`
	Resource string `json:"resource"`
	// +optional
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

// Destination names one workload execution cluster.
type Destination struct {
	ClusterID string `json:"clusterId"`
}

// BindingList is a list of Bindings.
//
// +kubebuilder:object:root=true
type BindingList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Binding `json:"items"`
}

// StatusCollector says how to summarise the status of workload objects across clusters.
//
// +genclient
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Namespaced,shortName=sc
type StatusCollector struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec StatusCollectorSpec `json:"spec,omitempty"`
}

// StatusCollectorSpec is a small query over the objects' reported status.
type StatusCollectorSpec struct {
	// Select lists named expressions evaluated per object.
	// +optional
	Select []NamedExpression `json:"select,omitempty"`
	// Limit caps the number of rows kept.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:default=20
	// +optional
	Limit int64 `json:"limit,omitempty"`
}

// NamedExpression is a CEL expression with a name.
type NamedExpression struct {
	Name string `json:"name"`
	Def  string `json:"def"`
}

// StatusCollectorList is a list of StatusCollectors.
//
// +kubebuilder:object:root=true
type StatusCollectorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []StatusCollector `json:"items"`
}
