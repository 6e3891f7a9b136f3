package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sagemaker"
	"github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/go-connections/nat"
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

// BenchmarkDockerStart compares CreateEndpoint to InService on --runtime
// docker (from the server's log: the CreateEndpoint call's answer to the
// endpoint's InService) with the same container started by hand through
// Docker's API, its port published, until its first GET /ping answers 200
// (polled every 5 ms), in the same run (go test -run x -bench DockerStart
// -benchtime 5x ./e2e).
func BenchmarkDockerStart(b *testing.B) {
	s, d := startDockerServer(b, b.TempDir())
	sm := s.SageMaker()
	logTime := regexp.MustCompile(`time=(\S+) .*(target=SageMaker\.CreateEndpoint status=200|to=InService)`)
	var byHand, ebb []time.Duration
	n := 0
	for b.Loop() {
		n++
		// By hand.
		ctx := context.Background()
		start := time.Now()
		port := nat.Port("8080/tcp")
		c, err := d.Client.ContainerCreate(ctx, &container.Config{Image: dockerModel, Cmd: []string{"serve"}, ExposedPorts: nat.PortSet{port: {}}},
			&container.HostConfig{PortBindings: nat.PortMap{port: []nat.PortBinding{{HostIP: "127.0.0.1"}}}}, nil, nil, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Client.ContainerStart(ctx, c.ID, container.StartOptions{}); err != nil {
			b.Fatal(err)
		}
		info, err := d.Client.ContainerInspect(ctx, c.ID)
		if err != nil {
			b.Fatal(err)
		}
		url := "http://127.0.0.1:" + info.NetworkSettings.Ports[port][0].HostPort + "/ping"
		for {
			if resp, err := http.Get(url); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			time.Sleep(5 * time.Millisecond) // what a person's script does: poll
		}
		byHand = append(byHand, time.Since(start))
		d.Client.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true})

		// Through ebb.
		before := len(s.Log())
		name := fmt.Sprintf("bstart%d", n)
		deploy(b, sm, name, dockerModel, 1)
		waitInService(b, sm, name)
		var created, inService time.Time
		for _, m := range logTime.FindAllStringSubmatch(s.Log()[before:], -1) {
			at, _ := time.Parse(time.RFC3339Nano, m[1])
			if strings.HasPrefix(m[2], "target=") {
				created = at
			} else {
				inService = at
			}
		}
		if created.IsZero() || inService.IsZero() {
			b.Fatal("the server's log has no CreateEndpoint answer or InService transition")
		}
		ebb = append(ebb, inService.Sub(created))
		if _, err := sm.DeleteEndpoint(ctx, &sagemaker.DeleteEndpointInput{EndpointName: aws.String(name)}); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(byHand)
	slices.Sort(ebb)
	b.ReportMetric(float64(byHand[len(byHand)/2].Milliseconds()), "ms-by-hand")
	b.ReportMetric(float64(ebb[len(ebb)/2].Milliseconds()), "ms-ebb")
	b.ReportMetric(float64((ebb[len(ebb)/2] - byHand[len(byHand)/2]).Milliseconds()), "ms-more")
}

// BenchmarkDockerAdopt50 measures how long a server restarted after kill -9
// takes until the 50 containers its predecessor ran are routable again:
// from the new server's start until DescribeEndpoint counts all 50 in
// service (go test -run x -bench DockerAdopt50 -benchtime 1x ./e2e).
func BenchmarkDockerAdopt50(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		s, _ := startDockerServer(b, dir, "--instance-limit", "100")
		deploy(b, s.SageMaker(), "many", dockerModel, 50)
		waitFor(b, s.SageMaker(), "many", "50 containers in service", func(o *sagemaker.DescribeEndpointOutput) bool {
			return aws.ToInt32(variantOf(o).CurrentInstanceCount) == 50
		})
		s.Crash()
		start := time.Now()
		s2, _ := startDockerServer(b, dir, "--instance-limit", "100")
		waitFor(b, s2.SageMaker(), "many", "50 adopted containers routable", func(o *sagemaker.DescribeEndpointOutput) bool {
			return aws.ToInt32(variantOf(o).CurrentInstanceCount) == 50 && o.EndpointStatus == "InService"
		})
		b.ReportMetric(time.Since(start).Seconds(), "s-until-routable")
		if _, err := s2.SageMaker().DeleteEndpoint(context.Background(), &sagemaker.DeleteEndpointInput{EndpointName: aws.String("many")}); err != nil {
			b.Fatal(err)
		}
		s2.Stop()
	}
}
