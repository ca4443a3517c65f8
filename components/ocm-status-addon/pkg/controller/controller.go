// Package controller copies status from managed clusters into WorkStatus objects.
package controller

import (
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubestellar/ocm-status-addon/api/v1alpha1"
)

// The addon's permissions, collected by controller-gen into config/rbac/role.yaml.
//
// +kubebuilder:rbac:groups=status.ocm.kubestellar.io,resources=workstatuses,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=status.ocm.kubestellar.io,resources=workstatuses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=work.open-cluster-management.io,resources=manifestworks,verbs=get;list;watch
// +kubebuilder:rbac:groups=addon.open-cluster-management.io,resources=managedclusteraddons,verbs=get;list;watch

// Scheme returns a scheme that knows the addon's kinds.
func Scheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return scheme, nil
}
