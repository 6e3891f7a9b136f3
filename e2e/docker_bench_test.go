package e2e

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// BenchmarkDockerInvoke compares InvokeEndpoint through ebb to the example
// model in a container (--runtime docker: Docker's published port) with the
// same model as a local process, in the same run (go test -run x -bench
// DockerInvoke -benchtime 1x ./e2e): 8 clients, 4000 calls each way, one
// instance, the model working 2 ms per call.
func BenchmarkDockerInvoke(b *testing.B) {
	const clients, calls = 8, 4000
	rate := func(rt *sagemakerruntime.Client, name string) float64 {
		var n atomic.Int64
		var failed atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n.Add(1) <= calls {
					if _, err := rt.InvokeEndpoint(context.Background(), &sagemakerruntime.InvokeEndpointInput{EndpointName: aws.String(name),
						Body: []byte("1,2,3"), ContentType: aws.String("text/csv")}); err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			b.Fatalf("%s: %d calls failed", name, failed.Load())
		}
		return calls / time.Since(start).Seconds()
	}
	for b.Loop() {
		proc := startServer(b, b.TempDir())
		deploy(b, proc.SageMaker(), "bproc", "ebb example-model --work-ms 2", 1)
		waitInService(b, proc.SageMaker(), "bproc")
		dock, _ := startDockerServer(b, b.TempDir())
		deploy(b, dock.SageMaker(), "bdock", dockerModel, 1)
		waitInService(b, dock.SageMaker(), "bdock")
		rate(proc.Runtime(), "bproc") // warm both paths
		rate(dock.Runtime(), "bdock")
		p, d := rate(proc.Runtime(), "bproc"), rate(dock.Runtime(), "bdock")
		b.ReportMetric(p, "calls/s-process")
		b.ReportMetric(d, "calls/s-docker")
		b.ReportMetric(d/p, "docker/process")
	}
}
