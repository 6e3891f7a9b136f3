package kubernetes

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestKubernetesFence: a replica whose Fence refuses (it lost the
// leadership) writes nothing to the Kubernetes API.
func TestKubernetesFence(t *testing.T) {
	c := testCluster(t)
	ns := c.Namespace(t)
	asked := make(chan struct{}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := New(ctx, Options{Client: c.Client, Namespace: ns, Fence: func(context.Context) error {
		select {
		case asked <- struct{}{}:
		default:
		}
		return errors.New("fenced")
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Detach()
	in, err := rt.Start(ctx, runtime.Spec{ID: "fenced-1", Endpoint: "fenced", Variant: "v1", Deployment: "d1", Image: testImage})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Stop(context.Background())
	<-asked // the check comes before any write of the attempt
	for kind, n := range map[string]func() int{
		"ConfigMaps": func() int {
			l, _ := c.Client.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{LabelSelector: labelEndpoint})
			return len(l.Items)
		},
		"Deployments": func() int {
			l, _ := c.Client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
			return len(l.Items)
		},
		"Services": func() int {
			l, _ := c.Client.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
			return len(l.Items)
		},
	} {
		if got := n(); got != 0 {
			t.Errorf("%d %s written by a fenced replica", got, kind)
		}
	}
}
