// Command invoke measures what ebb's router adds to InvokeEndpoint: the same
// example-model instance is invoked straight, through ebb, through nginx
// (the peer: a plain keep-alive reverse proxy) and through "fasthttp", a
// reverse proxy of a dozen lines on the HTTP library ebb's front is built
// on, with no logic at all: the floor of what a Go proxy costs here, which
// tells ebb's own work from the language's. On loopback with keep-alive,
// at several concurrencies, it prints throughput and latency percentiles
// and the latency each proxy adds over the straight path.
//
//	go build -o bin/ebb ./cmd/ebb && go run ./bench/invoke --ebb bin/ebb
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/valyala/fasthttp"
)

func main() {
	ebb := flag.String("ebb", "bin/ebb", "ebb binary")
	nginx := flag.String("nginx", "", "nginx binary (default: nginx on PATH or /usr/sbin/nginx; skipped if absent)")
	duration := flag.Duration("duration", 5*time.Second, "measuring time per target and concurrency")
	conc := flag.String("concurrency", "1,16,64", "comma-separated concurrencies")
	work := flag.Duration("work", 0, "CPU work per request in the model (0 measures pure overhead)")
	flag.StringVar(&wrkPath, "wrk", "", "wrk binary for load (default: wrk on PATH; else a Go load generator, which takes more of the machine's CPU)")
	floor := flag.String("serve-floor", "", "LISTEN=UPSTREAM: only serve the fasthttp floor proxy (the benchmark starts it so)")
	flag.Parse()
	if *floor != "" {
		listen, upstream, _ := strings.Cut(*floor, "=")
		log.Fatal(serveFloor(listen, upstream))
	}
	if wrkPath == "" {
		wrkPath, _ = exec.LookPath("wrk")
	}
	if err := run(*ebb, *nginx, *duration, *conc, *work); err != nil {
		log.Fatal(err)
	}
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func run(ebb, nginx string, duration time.Duration, conc string, work time.Duration) error {
	ebb, err := filepath.Abs(ebb)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ebb-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755) // as root, ebb runs instances as nobody, who must reach the data directory

	addr := freePort()
	srv := exec.Command(ebb, "server", "--listen", addr, "--data", filepath.Join(dir, "data"), "--log-level", "warn")
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	base := "http://" + addr
	if err := waitHTTP(base + "/healthz"); err != nil {
		return err
	}
	image := fmt.Sprintf("%s example-model --work %s", ebb, work)
	streaming := fmt.Sprintf("%s example-model --work 0 --stream-tokens 4 --token-delay 20ms", ebb)
	for _, call := range []struct{ op, body string }{
		{"CreateModel", `{"ModelName":"bench","PrimaryContainer":{"Image":"` + image + `"}}`},
		{"CreateEndpointConfig", `{"EndpointConfigName":"bench","ProductionVariants":[{"VariantName":"AllTraffic","ModelName":"bench","InstanceType":"ml.c5.large","InitialInstanceCount":1}]}`},
		{"CreateEndpoint", `{"EndpointName":"bench","EndpointConfigName":"bench"}`},
		{"CreateModel", `{"ModelName":"stream","PrimaryContainer":{"Image":"` + streaming + `"}}`},
		{"CreateEndpointConfig", `{"EndpointConfigName":"stream","ProductionVariants":[{"VariantName":"AllTraffic","ModelName":"stream","InstanceType":"ml.c5.large","InitialInstanceCount":1}]}`},
		{"CreateEndpoint", `{"EndpointName":"stream","EndpointConfigName":"stream"}`},
	} {
		if _, err := sagemaker(base, call.op, call.body); err != nil {
			return err
		}
	}
	for _, ep := range []string{"bench", "stream"} {
		if err := waitInService(base, ep); err != nil {
			return err
		}
	}
	instance, err := instanceAddr(filepath.Join(dir, "data", "instances"), "bench")
	if err != nil {
		return err
	}

	targets := []target{
		{"direct", "http://" + instance + "/invocations", nil},
		{"ebb", base + "/endpoints/bench/invocations", func() []int { return []int{srv.Process.Pid} }},
	}
	if nginx == "" {
		nginx, _ = exec.LookPath("nginx")
		if nginx == "" {
			if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
				nginx = "/usr/sbin/nginx"
			}
		}
	}
	if nginx != "" {
		url, pid, stop, err := startNginx(nginx, dir, instance)
		if err != nil {
			return err
		}
		defer stop()
		targets = append(targets, target{"nginx", url, func() []int { return append(children(pid), pid) }})
	} else {
		fmt.Println("nginx not found: install it (apt-get install nginx) to measure the peer")
	}

	url, pid, stop, err := startFloor(instance)
	if err != nil {
		return err
	}
	defer stop()
	targets = append(targets, target{"fasthttp", url, func() []int { return []int{pid} }})

	gen := "Go load generator"
	if wrkPath != "" {
		gen = wrkPath
	}
	fmt.Printf("InvokeEndpoint overhead: model work %v per request, %v per measurement, %d cores, load from %s\n\n", work, duration, runtime.NumCPU(), gen)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "concurrency\ttarget\treq/s\tp50\tp99\tadded p50\tadded p99\tthroughput vs direct\tproxy CPU per request\t")
	for _, c := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n < 1 {
			return fmt.Errorf("--concurrency: %q", c)
		}
		var direct result
		for _, tg := range targets {
			var cpu0 time.Duration
			r := load(tg.url, n, duration, func() {
				if tg.procs != nil {
					cpu0 = cpuTime(tg.procs())
				}
			})
			perRequest := "-"
			if tg.procs != nil && r.rps > 0 {
				perRequest = ((cpuTime(tg.procs()) - cpu0) / time.Duration(r.rps*duration.Seconds())).Round(100 * time.Nanosecond).String()
			}
			if tg.name == "direct" {
				direct = r
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%v\t%v\t%v\t%v\t%.2f\t%s\t\n", n, tg.name, r.rps, r.p50, r.p99,
				r.p50-direct.p50, r.p99-direct.p99, r.rps/direct.rps, perRequest)
			if r.errors > 0 {
				fmt.Fprintf(tw, "\t%s: %d errors\t\t\t\t\t\t\t\t\n", tg.name, r.errors)
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	streamInstance, err := instanceAddr(filepath.Join(dir, "data", "instances"), "stream")
	if err != nil {
		return err
	}
	fmt.Printf("\nInvokeEndpointWithResponseStream: time to the first chunk of a 4-token answer (20 ms apart), 200 sequential requests\n\n")
	tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tfirst chunk p50\tp99\tadded p50\t")
	var directTTFB time.Duration
	for _, tg := range []struct{ name, url string }{
		{"direct", "http://" + streamInstance + "/invocations"},
		{"ebb", base + "/endpoints/stream/invocations-response-stream"},
	} {
		p50, p99, err := firstChunk(tg.url, 200)
		if err != nil {
			return err
		}
		if tg.name == "direct" {
			directTTFB = p50
		}
		fmt.Fprintf(tw, "%s\t%v\t%v\t%v\t\n", tg.name, p50, p99, p50-directTTFB)
	}
	return tw.Flush()
}

// waitInService polls DescribeEndpoint until the endpoint is InService.
func waitInService(base, name string) error {
	for start := time.Now(); ; {
		out, err := sagemaker(base, "DescribeEndpoint", `{"EndpointName":"`+name+`"}`)
		if err != nil {
			return err
		}
		if out["EndpointStatus"] == "InService" {
			return nil
		}
		if time.Since(start) > time.Minute {
			return fmt.Errorf("endpoint %s not InService: %v", name, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// firstChunk measures the time from sending a request to reading the first
// bytes of its streamed answer.
func firstChunk(url string, n int) (p50, p99 time.Duration, err error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	var ds []time.Duration
	buf := make([]byte, 1)
	for range n {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader("1,2,3"))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", benchAuth)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, 0, err
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return 0, 0, fmt.Errorf("%s: %s", url, resp.Status)
		}
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			resp.Body.Close()
			return 0, 0, err
		}
		ds = append(ds, time.Since(start))
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	slices.Sort(ds)
	return ds[n/2], ds[n*99/100], nil
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	errors   int
}

var wrkPath string

// load runs n keep-alive clients against url for d, with wrk when there is
// one, after a warm-up; measuring is called as the measured run starts.
func load(url string, n int, d time.Duration, measuring func()) result {
	if wrkPath != "" {
		return loadWrk(url, n, d, measuring)
	}
	return loadGo(url, n, d, measuring)
}

const wrkScript = `wrk.method = "POST"
wrk.body = "1,2,3,4"
wrk.headers["Content-Type"] = "text/csv"
wrk.headers["Authorization"] = "` + benchAuth + `"
`

// benchAuth is an Authorization header of SigV4's shape: without
// --credentials ebb checks the shape only (browsers cannot send it), and
// the direct and nginx targets ignore it.
const benchAuth = "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/sagemaker/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000"

var wrkLine = regexp.MustCompile(`(?m)^\s*(50|99)%\s+([\d.]+)(us|ms|s)\s*$`)

func loadWrk(url string, n int, d time.Duration, measuring func()) result {
	script := filepath.Join(os.TempDir(), "ebb-bench-post.lua")
	os.WriteFile(script, []byte(wrkScript), 0o644)
	threads := min(n, 2)
	args := []string{"-t", strconv.Itoa(threads), "-c", strconv.Itoa(n), "-d", fmt.Sprintf("%ds", int(d.Seconds())), "-s", script, "--latency", url}
	exec.Command(wrkPath, append([]string{"-d", "1s"}, args[2:]...)...).Run() // warm-up
	measuring()
	out, err := exec.Command(wrkPath, args...).CombinedOutput()
	if err != nil {
		log.Fatalf("wrk: %v\n%s", err, out)
	}
	var r result
	for _, m := range wrkLine.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[m[3]]
		lat := time.Duration(v * float64(unit)).Round(time.Microsecond) // wrk prints 2 decimals
		if m[1] == "50" {
			r.p50 = lat
		} else {
			r.p99 = lat
		}
	}
	if m := regexp.MustCompile(`Requests/sec:\s+([\d.]+)`).FindStringSubmatch(string(out)); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`).FindStringSubmatch(string(out)); m != nil {
		r.errors, _ = strconv.Atoi(m[1])
	}
	return r
}

// loadGo runs n Go clients with keep-alive against url for d (after a short warm-up).
func loadGo(url string, n int, d time.Duration, measuring func()) result {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n * 2, DisableCompression: true}}
	body := []byte("1,2,3,4")
	shoot := func() (time.Duration, bool) {
		start := time.Now()
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", benchAuth)
		resp, err := client.Do(req)
		if err != nil {
			return 0, false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return time.Since(start), resp.StatusCode == 200
	}
	run := func(d time.Duration, record bool) ([]time.Duration, int) {
		var mu sync.Mutex
		var all []time.Duration
		errs := 0
		var wg sync.WaitGroup
		end := time.Now().Add(d)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				bad := 0
				for time.Now().Before(end) {
					lat, ok := shoot()
					if ok {
						mine = append(mine, lat)
					} else {
						bad++
					}
				}
				mu.Lock()
				all = append(all, mine...)
				errs += bad
				mu.Unlock()
			}()
		}
		wg.Wait()
		return all, errs
	}
	run(d/10, false)
	measuring()
	lats, errs := run(d, true)
	slices.Sort(lats)
	if len(lats) == 0 {
		return result{errors: errs}
	}
	return result{
		rps:    float64(len(lats)) / d.Seconds(),
		p50:    lats[len(lats)*50/100],
		p99:    lats[len(lats)*99/100],
		errors: errs,
	}
}

func waitHTTP(url string) error {
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("%s did not answer", url)
}

func sagemaker(base, op, body string) (map[string]any, error) {
	req, _ := http.NewRequestWithContext(context.Background(), "POST", base+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("Authorization", benchAuth)
	req.Header.Set("X-Amz-Target", "SageMaker."+op)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %d %v", op, resp.StatusCode, out)
	}
	return out, nil
}

func instanceAddr(dir, endpoint string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "instance.json"))
		if err != nil {
			continue
		}
		var rec struct{ Addr, Endpoint string }
		if json.Unmarshal(b, &rec) == nil && rec.Addr != "" && rec.Endpoint == endpoint {
			return rec.Addr, nil
		}
	}
	return "", fmt.Errorf("no instance found in %s", dir)
}

// startNginx runs nginx as a keep-alive reverse proxy to the instance.
// serveFloor is the floor proxy: every request goes to upstream's
// /invocations as it came, through one fasthttp client.
func serveFloor(listen, upstream string) error {
	client := &fasthttp.HostClient{Addr: upstream, MaxConns: 4096}
	return fasthttp.ListenAndServe(listen, func(ctx *fasthttp.RequestCtx) {
		ctx.Request.SetRequestURI("/invocations")
		if err := client.Do(&ctx.Request, &ctx.Response); err != nil {
			ctx.Error(err.Error(), fasthttp.StatusBadGateway)
		}
	})
}

// startFloor runs the floor proxy as a process of its own, as ebb and
// nginx are.
func startFloor(instance string) (string, int, func(), error) {
	self, err := os.Executable()
	if err != nil {
		return "", 0, nil, err
	}
	addr := freePort()
	cmd := exec.Command(self, "--serve-floor", addr+"="+instance)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr + "/", cmd.Process.Pid, stop, nil
		}
	}
	stop()
	return "", 0, nil, errors.New("the fasthttp floor proxy did not start")
}

func startNginx(bin, dir, instance string) (string, int, func(), error) {
	ndir := filepath.Join(dir, "nginx")
	os.MkdirAll(filepath.Join(ndir, "logs"), 0o755)
	addr := freePort()
	conf := fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  client_max_body_size 6m;
  upstream model { server %[2]s; keepalive 256; }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://model/invocations;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`, ndir, instance, addr)
	path := filepath.Join(ndir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return "", 0, nil, err
	}
	cmd := exec.Command(bin, "-p", ndir, "-c", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop := func() { cmd.Process.Signal(syscall.SIGQUIT); cmd.Wait() }
	for start := time.Now(); time.Since(start) < 10*time.Second; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr + "/", cmd.Process.Pid, stop, nil
		}
	}
	stop()
	return "", 0, nil, fmt.Errorf("nginx did not start; see %s/logs/error.log", ndir)
}

// target is a URL to load and the processes whose CPU time it costs.
type target struct {
	name, url string
	procs     func() []int
}

// cpuTime is the user and system time the processes have spent, from
// /proc (Linux's clock ticks are 1/100 s).
func cpuTime(pids []int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command's closing parenthesis: utime and
		// stime are the 12th and 13th.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// children are the processes whose parent is pid (nginx's workers).
func children(pid int) []int {
	var out []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		child, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}
