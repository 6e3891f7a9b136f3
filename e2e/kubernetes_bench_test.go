package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker/types"
	"github.com/ebbscale/ebb/internal/runtime/kubernetes/kubetest"
)

var bigNode sync.Once

// roomyCluster adds a node with room for hundreds of ml.m5.large pods.
func roomyCluster(b *testing.B) *kubetest.Cluster {
	c := kubeCluster(b)
	bigNode.Do(func() {
		if err := c.AddNode(context.Background(), kubetest.NodeSpec{Name: "m5-big", CPU: 2048, Memory: "8Ti", Pods: 1000,
			Labels: map[string]string{"topology.kubernetes.io/zone": "zone-c", "node.kubernetes.io/instance-type": "m5.large"}}); err != nil {
			b.Fatal(err)
		}
	})
	return c
}

// BenchmarkKubernetes measures the Kubernetes runtime on a real control
// plane (go test -run x -bench Kubernetes -benchtime 1x ./e2e):
//
//   - ScaleOut100: one variant from 1 to 100 pods, the time until all 100
//     are ready and in the routing table (CurrentInstanceCount counts
//     exactly the routed instances);
//   - Components1to50: an inference component from 1 to 50 copies (one
//     core each, two to an ml.m5.large share, the shares added by managed
//     instance scaling), the time until all 50 are routable;
//   - Restart200x2: 200 endpoints of 2 variants each, the time from ebb's
//     restart (kill -9) until every endpoint is InService with its pods
//     adopted.
func BenchmarkKubernetes(b *testing.B) {
	b.Run("ScaleOut100", func(b *testing.B) {
		roomyCluster(b)
		for b.Loop() {
			k := startKubeServer(b, b.TempDir(), "--instance-limit", "1000")
			sm := k.SageMaker()
			deploy(b, sm, "kscale", kubeModel, 1)
			waitInService(b, sm, "kscale")
			start := time.Now()
			setCapacity(b, sm, "kscale", "AllTraffic", 100)
			waitFor(b, sm, "kscale", "100 routable pods", func(o *sagemaker.DescribeEndpointOutput) bool {
				return *variantOf(o).CurrentInstanceCount == 100
			})
			b.ReportMetric(time.Since(start).Seconds(), "s/1-to-100")
			b.ReportMetric(float64(time.Since(start).Milliseconds())/99, "ms/pod")
		}
	})
	b.Run("Components1to50", func(b *testing.B) {
		roomyCluster(b)
		for b.Loop() {
			k := startKubeServer(b, b.TempDir(), "--instance-limit", "1000")
			sm := k.SageMaker()
			hostEndpoint(b, sm, "kic", types.ProductionVariantInstanceTypeMlM5Large, 1, 30)
			createComponent(b, sm, "kcopies", "kic", kubeModel, 1)
			waitComponent(b, sm, "kcopies", "InService", inService)
			start := time.Now()
			if _, err := sm.UpdateInferenceComponentRuntimeConfig(context.Background(), &sagemaker.UpdateInferenceComponentRuntimeConfigInput{
				InferenceComponentName: aws.String("kcopies"), DesiredRuntimeConfig: &types.InferenceComponentRuntimeConfig{CopyCount: aws.Int32(50)}}); err != nil {
				b.Fatal(err)
			}
			waitComponent(b, sm, "kcopies", "50 routable copies", func(o *sagemaker.DescribeInferenceComponentOutput) bool {
				cur, _ := copies(o)
				return cur == 50
			})
			b.ReportMetric(time.Since(start).Seconds(), "s/1-to-50")
			b.ReportMetric(float64(time.Since(start).Milliseconds())/49, "ms/copy")
		}
	})
	b.Run("Restart200x2", func(b *testing.B) {
		roomyCluster(b)
		for b.Loop() {
			dir := b.TempDir()
			k := startKubeServer(b, dir, "--instance-limit", "1000")
			sm := k.SageMaker()
			const n = 200
			names := make(chan string)
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for name := range names {
						twoVariants(b, sm, name)
					}
				}()
			}
			created := time.Now()
			for i := range n {
				names <- fmt.Sprintf("kr%03d", i)
			}
			close(names)
			wg.Wait()
			for i := range n {
				waitInService(b, sm, fmt.Sprintf("kr%03d", i))
			}
			b.Logf("%d endpoints x 2 variants created and InService in %v", n, time.Since(created))
			k.Crash()
			restarted := time.Now()
			s2 := restartKubeServer(b, dir, k.cluster, k.ns, "--instance-limit", "1000")
			listening := time.Since(restarted)
			sm2 := s2.SageMaker()
			for i := range n {
				out := waitInService(b, sm2, fmt.Sprintf("kr%03d", i))
				for _, v := range out.ProductionVariants {
					if *v.CurrentInstanceCount != 1 {
						b.Fatalf("%s/%s has %d instances after the restart", *out.EndpointName, *v.VariantName, *v.CurrentInstanceCount)
					}
				}
			}
			b.ReportMetric(time.Since(restarted).Seconds(), "s/restart-reconciled")
			b.ReportMetric(listening.Seconds(), "s/restart-listening")
			if pods := len(k.pods(b)); pods != 2*n {
				b.Fatalf("%d pods after the restart, want %d (no duplicates, no orphans)", pods, 2*n)
			}
		}
	})
}

// twoVariants creates an endpoint whose configuration has two variants of
// one instance each.
func twoVariants(b testing.TB, sm *sagemaker.Client, name string) {
	ctx := context.Background()
	if _, err := sm.CreateModel(ctx, &sagemaker.CreateModelInput{ModelName: aws.String(name),
		PrimaryContainer: &types.ContainerDefinition{Image: aws.String(kubeModel)}, ExecutionRoleArn: aws.String("arn:aws:iam::123456789012:role/ebb")}); err != nil {
		b.Fatal(err)
	}
	var vs []types.ProductionVariant
	for _, v := range []string{"A", "B"} {
		vs = append(vs, types.ProductionVariant{VariantName: aws.String(v), ModelName: aws.String(name),
			InstanceType: types.ProductionVariantInstanceTypeMlM5Large, InitialInstanceCount: aws.Int32(1), InitialVariantWeight: aws.Float32(1)})
	}
	if _, err := sm.CreateEndpointConfig(ctx, &sagemaker.CreateEndpointConfigInput{EndpointConfigName: aws.String(name), ProductionVariants: vs}); err != nil {
		b.Fatal(err)
	}
	if _, err := sm.CreateEndpoint(ctx, &sagemaker.CreateEndpointInput{EndpointName: aws.String(name), EndpointConfigName: aws.String(name)}); err != nil {
		b.Fatal(err)
	}
}
