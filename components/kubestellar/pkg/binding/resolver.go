// Package binding resolves BindingPolicies into Bindings, reading them through the generated
// informers and listers.
package binding

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/kubestellar/kubestellar/pkg/generated/clientset/versioned"
	"github.com/kubestellar/kubestellar/pkg/generated/informers/externalversions"
	controllisters "github.com/kubestellar/kubestellar/pkg/generated/listers/control/v1alpha1"
)

// Resolver lists BindingPolicies from an informer cache.
type Resolver struct {
	policies controllisters.BindingPolicyLister
	factory  externalversions.SharedInformerFactory
}

// NewResolver wires a Resolver to a clientset.
func NewResolver(client versioned.Interface, resync time.Duration) *Resolver {
	factory := externalversions.NewSharedInformerFactory(client, resync)
	return &Resolver{policies: factory.Control().V1alpha1().BindingPolicies().Lister(), factory: factory}
}

// Run starts the informers and waits for their caches.
func (r *Resolver) Run(ctx context.Context) error {
	r.factory.Start(ctx.Done())
	for informer, synced := range r.factory.WaitForCacheSync(ctx.Done()) {
		if !synced {
			return fmt.Errorf("cache of %v did not sync", informer)
		}
	}
	return nil
}

// PolicyNames returns the names of every known BindingPolicy.
func (r *Resolver) PolicyNames() ([]string, error) {
	policies, err := r.policies.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(policies))
	for _, policy := range policies {
		names = append(names, policy.Name)
	}
	return names, nil
}
