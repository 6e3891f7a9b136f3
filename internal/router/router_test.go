package router

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func serve(t *testing.T, h http.HandlerFunc) Instance {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return Instance{ID: s.URL, Addr: strings.TrimPrefix(s.URL, "http://")}
}

func answer(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) }
}

func invoke(t *testing.T, r *Router, inv Invocation) (string, string, error) {
	t.Helper()
	resp, err := r.Invoke(context.Background(), inv)
	if err != nil {
		return "", "", err
	}
	defer resp.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Variant, string(b), nil
}

func TestLeastOutstandingRequests(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{})
	slow := serve(t, func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "slow")
	})
	fast := serve(t, answer("fast"))
	r := New(Options{})
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{slow, fast}}}})

	// Occupy one instance; while it is busy every request goes to the other.
	var wg sync.WaitGroup
	busy := 0
	for busy == 0 {
		wg.Add(1)
		done := make(chan string, 1)
		go func() {
			defer wg.Done()
			_, body, _ := invoke(t, r, Invocation{Endpoint: "ep"})
			done <- body
		}()
		select {
		case <-arrived:
			busy = 1
		case body := <-done:
			if body != "fast" {
				t.Fatalf("got %q", body)
			}
		}
	}
	for range 50 {
		if _, body, err := invoke(t, r, Invocation{Endpoint: "ep"}); err != nil || body != "fast" {
			t.Fatalf("with one instance busy: %q, %v", body, err)
		}
	}
	close(release)
	wg.Wait()
}

func TestDrainWaitsForRequestsInFlight(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{})
	in := serve(t, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "done")
	})
	r := New(Options{})
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{in}}}})
	got := make(chan string, 1)
	go func() { _, body, _ := invoke(t, r, Invocation{Endpoint: "ep"}); got <- body }()
	<-arrived
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1}}})
	drained := make(chan error, 1)
	go func() { drained <- r.Drain(context.Background(), in.ID) }()
	select {
	case <-drained:
		t.Fatal("Drain returned while a request was in flight")
	case <-time.After(50 * time.Millisecond): // a negative check: nothing may happen
	}
	close(release)
	if body := <-got; body != "done" {
		t.Fatalf("request in flight got %q", body)
	}
	if err := <-drained; err != nil {
		t.Fatal(err)
	}
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep"}); !errors.Is(err, ErrNoCapacity) {
		t.Fatalf("after withdrawal: %v, want ErrNoCapacity", err)
	}
}

func TestRefusedConnectionGoesElsewhere(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := Instance{ID: "dead", Addr: l.Addr().String()}
	l.Close()
	r := New(Options{})
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{dead, serve(t, answer("ok"))}}}})
	for range 20 {
		if _, body, err := invoke(t, r, Invocation{Endpoint: "ep"}); err != nil || body != "ok" {
			t.Fatalf("%q, %v", body, err)
		}
	}
}

func TestErrors(t *testing.T) {
	r := New(Options{})
	r.Set(Endpoint{Name: "ep", Variants: []Variant{
		{Name: "bad", Weight: 1, Instances: []Instance{serve(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })}},
		{Name: "empty", Weight: 0},
	}})
	_, _, err := invoke(t, r, Invocation{Endpoint: "ep"})
	var me *ModelError
	if !errors.As(err, &me) || me.StatusCode != 500 || strings.TrimSpace(string(me.Body)) != "boom" || me.Variant != "bad" {
		t.Fatalf("got %v, want a ModelError 500 boom", err)
	}
	if _, _, err := invoke(t, r, Invocation{Endpoint: "nope"}); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("unknown endpoint: %v", err)
	}
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep", TargetVariant: "other"}); !errors.Is(err, ErrVariantNotFound) {
		t.Fatalf("unknown variant: %v", err)
	}
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep", TargetVariant: "empty"}); !errors.Is(err, ErrNoCapacity) {
		t.Fatalf("variant without instances: %v", err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := r.Invoke(ctx, Invocation{Endpoint: "ep", TargetVariant: "bad"}); !errors.Is(err, ErrTimeout) {
		t.Fatalf("expired deadline: %v, want ErrTimeout", err)
	}
	r.Delete("ep")
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep"}); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatalf("deleted endpoint: %v", err)
	}
}

func BenchmarkInvoke(b *testing.B) {
	s := httptest.NewServer(answer("0.5\n"))
	defer s.Close()
	r := New(Options{})
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{{ID: "i", Addr: strings.TrimPrefix(s.URL, "http://")}}}}})
	body := []byte("1,2,3")
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := r.Invoke(context.Background(), Invocation{Endpoint: "ep", Body: body, Header: http.Header{}})
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Close()
		}
	})
}

func TestCollect(t *testing.T) {
	r := New(Options{})
	ok := serve(t, answer("ok"))
	bad := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 400) })
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "good", Weight: 1, Instances: []Instance{ok, serve(t, answer("ok"))}}, {Name: "bad", Weight: 0, Instances: []Instance{bad}}}})
	for range 4 {
		if _, _, err := invoke(t, r, Invocation{Endpoint: "ep", TargetVariant: "good"}); err != nil {
			t.Fatal(err)
		}
	}
	invoke(t, r, Invocation{Endpoint: "ep", TargetVariant: "bad"})
	got := map[string]Sample{}
	for _, s := range r.Collect() {
		got[s.Variant] = s
	}
	g, b := got["good"], got["bad"]
	if g.Invocations != 4 || g.PerInstance != 2 || g.ModelErrors != 0 || len(g.ModelLatency) != 4 || g.Instances != 2 {
		t.Errorf("good = %+v", g)
	}
	if b.Invocations != 1 || b.Errors4XX != 1 || b.ModelErrors != 1 || b.Errors5XX != 0 {
		t.Errorf("bad = %+v", b)
	}
	for _, s := range r.Collect() {
		if s.Invocations != 0 {
			t.Errorf("second Collect repeated %+v", s)
		}
	}
}

func BenchmarkRecord(b *testing.B) {
	var s variantStats
	s.instances = 3
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			s.record(OutcomeOK, time.Millisecond, time.Microsecond)
			if i%(1<<14) == 0 {
				s.take() // as Collect does every second
			}
		}
	})
}

// coldStarter answers a router's cold-start requests with answer, as the
// autoscaler's loop does, and reports each variant asked for.
func coldStarter(t *testing.T, answer error) (chan<- ColdStartRequest, <-chan string) {
	reqs, asked := make(chan ColdStartRequest), make(chan string, 16)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	go func() {
		for {
			select {
			case req := <-reqs:
				asked <- req.Variant + req.Component
				req.Reply <- answer
			case <-done:
				return
			}
		}
	}()
	return reqs, asked
}

func TestColdStart(t *testing.T) {
	in := serve(t, answer("warm"))
	reqs, started := coldStarter(t, nil)
	r := New(Options{ColdStarts: reqs, ColdStartBuffer: DefaultColdStartBuffer, ColdStartTimeout: DefaultColdStartTimeout})
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1}}})
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, body, err := invoke(t, r, Invocation{Endpoint: "ep"})
			if err == nil && body != "warm" {
				err = errors.New(body)
			}
			errs <- err
		}()
	}
	if v := <-started; v != "v" {
		t.Fatalf("cold start for %q", v)
	}
	// Capacity arrives: every waiting request is served.
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{in}}}})
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a request waiting for capacity failed: %v", err)
		}
	}
	select {
	case <-started:
		t.Fatal("one cold start was asked for more than once")
	default:
	}
	if s := r.Collect()[0]; len(s.ColdStartWaits) == 0 {
		t.Fatal("cold start waits not recorded")
	}

	// A full buffer and an expired wait are errors; so is a refused cold start.
	empty := Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1}}}
	r = New(Options{ColdStarts: reqs, ColdStartBuffer: 1, ColdStartTimeout: DefaultColdStartTimeout})
	r.Set(empty)
	ctx, cancel := context.WithCancel(context.Background())
	waiting := make(chan error, 1)
	go func() { _, err := r.Invoke(ctx, Invocation{Endpoint: "ep"}); waiting <- err }()
	<-started
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep"}); !errors.Is(err, ErrColdStartBufferFull) {
		t.Fatalf("full buffer: %v", err)
	}
	cancel()
	<-waiting
	// No buffer: cold starts are off, and a request fails as on AWS.
	r = New(Options{ColdStarts: reqs, ColdStartBuffer: 0, ColdStartTimeout: DefaultColdStartTimeout})
	r.Set(empty)
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep"}); !errors.Is(err, ErrNoCapacity) {
		t.Fatalf("no buffer: %v", err)
	}
	r = New(Options{ColdStarts: reqs, ColdStartBuffer: 4, ColdStartTimeout: time.Millisecond})
	r.Set(empty)
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep"}); !errors.Is(err, ErrColdStartTimeout) {
		t.Fatalf("timeout: %v", err)
	}
	// Nobody answers (the autoscaler's loop is not running): a timeout too.
	r = New(Options{ColdStarts: make(chan ColdStartRequest), ColdStartBuffer: 4, ColdStartTimeout: time.Millisecond})
	r.Set(empty)
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep"}); !errors.Is(err, ErrColdStartTimeout) {
		t.Fatalf("unanswered: %v", err)
	}
	refuse, _ := coldStarter(t, errors.New("not a scalable target"))
	r = New(Options{ColdStarts: refuse, ColdStartBuffer: 4, ColdStartTimeout: DefaultColdStartTimeout})
	r.Set(empty)
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep"}); !errors.Is(err, ErrNoCapacity) {
		t.Fatalf("refused: %v", err)
	}
}

// TestAnswerFraming checks the answers a model server may frame, on one
// kept-alive connection: an interim 100 before the answer, a chunked body
// with a trailer, a fixed length, 204 without a body; an answer ended by
// closing the connection is read whole and the next request dials anew.
func TestAnswerFraming(t *testing.T) {
	answers := []string{
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Amzn-SageMaker-Custom-Attributes: k=v\r\n\r\nhi",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext",
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	conns := 0
	go func() {
		next := 0
		for next < len(answers) {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns++
			br := bufio.NewReader(c)
			for next < len(answers) {
				req, err := http.ReadRequest(br)
				if err != nil {
					break
				}
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, answers[next])
				next++
				if strings.HasPrefix(answers[next-1], "HTTP/1.0") {
					break
				}
			}
			c.Close()
		}
	}()
	r := New(Options{})
	r.Set(Endpoint{Name: "e", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{{ID: "i", Addr: ln.Addr().String()}}}}})
	for i, want := range []struct{ body, header string }{
		{"abcde", "text/a"}, {"hi", "k=v"}, {"", ""}, {"until close", ""}, {"next", ""},
	} {
		resp, err := r.Invoke(context.Background(), Invocation{Endpoint: "e", Body: []byte("x")})
		if err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Close()
		if err != nil || string(b) != want.body {
			t.Fatalf("answer %d: body %q, %v; want %q", i, b, err, want.body)
		}
		if got := resp.Header.Get("Content-Type") + resp.Header.Get("X-Amzn-SageMaker-Custom-Attributes"); got != want.header {
			t.Fatalf("answer %d: header %q, want %q", i, got, want.header)
		}
		if resp.Header.Get("Transfer-Encoding") != "" {
			t.Fatalf("answer %d: Transfer-Encoding kept in the header", i)
		}
	}
	if conns != 2 {
		t.Fatalf("%d connections, want 2 (one kept alive for four answers, one after the answer ended by close)", conns)
	}
}

// TestComponents routes by inference component: each request goes to the
// copies of the component it names, reports the hosting variant, and is
// counted per component; an endpoint of components refuses a request that
// names none, and one without a copy counts a no-capacity failure.
func TestComponents(t *testing.T) {
	a, b := serve(t, answer("a")), serve(t, answer("b"))
	r := New(Options{})
	r.Set(Endpoint{Name: "e", Components: []Component{
		{Name: "ca", Variant: "v", Copies: []Instance{a}},
		{Name: "cb", Variant: "v", Copies: []Instance{b}},
		{Name: "idle", Variant: "v"},
	}})
	for _, c := range []string{"ca", "cb", "ca"} {
		variant, body, err := invoke(t, r, Invocation{Endpoint: "e", Component: c})
		if err != nil || variant != "v" || body != c[1:] {
			t.Fatalf("component %s: %q %q %v", c, variant, body, err)
		}
	}
	for c, want := range map[string]error{"": ErrComponentRequired, "other": ErrComponentNotFound, "idle": ErrNoCopy} {
		if _, _, err := invoke(t, r, Invocation{Endpoint: "e", Component: c}); !errors.Is(err, want) {
			t.Fatalf("component %q: %v, want %v", c, err, want)
		}
	}
	got := map[string]Sample{}
	for _, s := range r.Collect() {
		got[s.Component] = s
	}
	if got["ca"].Invocations != 2 || got["cb"].Invocations != 1 || got["idle"].NoCapacity != 1 || got["ca"].Instances != 1 || got["ca"].PerInstance != 2 {
		t.Fatalf("samples %+v", got)
	}
	if _, _, err := invoke(t, New(Options{}), Invocation{Endpoint: "e", Component: "ca"}); !errors.Is(err, ErrEndpointNotFound) {
		t.Fatal(err)
	}
	plain := New(Options{})
	plain.Set(Endpoint{Name: "p", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{a}}}})
	if _, _, err := invoke(t, plain, Invocation{Endpoint: "p", Component: "ca"}); !errors.Is(err, ErrNoComponents) {
		t.Fatalf("a component on an endpoint without: %v", err)
	}
}

// TestComponentColdStart: with cold starts on, a request for a component
// without copies waits for its first copy; refused, it fails as on AWS and
// counts as a no-capacity failure.
func TestComponentColdStart(t *testing.T) {
	in := serve(t, answer("warm"))
	reqs, started := coldStarter(t, nil)
	r := New(Options{ColdStarts: reqs, ColdStartBuffer: DefaultColdStartBuffer, ColdStartTimeout: DefaultColdStartTimeout})
	r.Set(Endpoint{Name: "ep", Components: []Component{{Name: "ic", Variant: "v"}}})
	done := make(chan error, 1)
	go func() {
		_, body, err := invoke(t, r, Invocation{Endpoint: "ep", Component: "ic"})
		if err == nil && body != "warm" {
			err = errors.New(body)
		}
		done <- err
	}()
	if c := <-started; c != "ic" {
		t.Fatalf("cold start for %q", c)
	}
	r.Set(Endpoint{Name: "ep", Components: []Component{{Name: "ic", Variant: "v", Copies: []Instance{in}}}})
	if err := <-done; err != nil {
		t.Fatalf("a request waiting for a copy: %v", err)
	}

	refusing, _ := coldStarter(t, errors.New("not a scalable target"))
	r = New(Options{ColdStarts: refusing, ColdStartBuffer: DefaultColdStartBuffer, ColdStartTimeout: DefaultColdStartTimeout})
	r.Set(Endpoint{Name: "ep", Components: []Component{{Name: "ic", Variant: "v"}}})
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep", Component: "ic"}); !errors.Is(err, ErrNoCopy) {
		t.Fatalf("refused cold start: %v", err)
	}
	if s := r.Collect(); len(s) != 1 || s[0].NoCapacity != 1 {
		t.Fatalf("samples %+v", s)
	}
}

// TestContainers: a Direct variant sends each request to the container it
// names and counts it per container; a Serial one runs it through every
// container, each answer the next one's input.
func TestContainers(t *testing.T) {
	upper := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/upper")
		io.WriteString(w, strings.ToUpper(string(b)))
	})
	exclaim := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, string(b)+"!"+r.Header.Get("Content-Type"))
	})
	inst := Instance{ID: "i", Addr: upper.Addr, Containers: []Container{{"up", upper.Addr}, {"ex", exclaim.Addr}}}
	r := New(Options{})
	r.Set(Endpoint{Name: "direct", Variants: []Variant{{Name: "v", Weight: 1, Execution: "Direct", Instances: []Instance{inst}}}})
	r.Set(Endpoint{Name: "pipe", Variants: []Variant{{Name: "v", Weight: 1, Execution: "Serial", Instances: []Instance{{ID: "j", Addr: upper.Addr, Containers: inst.Containers}}}}})
	for host, want := range map[string]string{"up": "HI", "ex": "hi!"} {
		if _, body, err := invoke(t, r, Invocation{Endpoint: "direct", TargetContainer: host, Body: []byte("hi")}); err != nil || body != want {
			t.Fatalf("container %s: %q %v", host, body, err)
		}
	}
	for host, want := range map[string]error{"": ErrContainerRequired, "other": ErrContainerNotFound} {
		if _, _, err := invoke(t, r, Invocation{Endpoint: "direct", TargetContainer: host}); !errors.Is(err, want) {
			t.Fatalf("container %q: %v, want %v", host, err, want)
		}
	}
	if _, body, err := invoke(t, r, Invocation{Endpoint: "pipe", Body: []byte("hi")}); err != nil || body != "HI!text/upper" {
		t.Fatalf("pipeline: %q %v", body, err)
	}
	if _, _, err := invoke(t, r, Invocation{Endpoint: "pipe", TargetContainer: "up"}); !errors.Is(err, ErrNotDirect) {
		t.Fatalf("hostname on a pipeline: %v", err)
	}
	per := map[string]int{}
	for _, s := range r.Collect() {
		per[s.Endpoint+"/"+s.Container] = s.Invocations
	}
	if per["direct/up"] != 1 || per["direct/ex"] != 1 || per["direct/"] != 2 || per["pipe/"] != 1 {
		t.Fatalf("invocations %v", per)
	}
}

// TestBrokenConnectionEjects: an instance whose connections break
// mid-request (it died behind a proxy that still accepts, as Docker's does)
// fails the request in flight, then takes no new one while another can.
func TestBrokenConnectionEjects(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n') // the request line, then nothing
			c.Close()
		}
	}()
	broken := Instance{ID: "broken", Addr: ln.Addr().String()}
	r := New(Options{})
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{broken, serve(t, answer("ok"))}}}})
	failed := 0
	for range 50 {
		if _, body, err := invoke(t, r, Invocation{Endpoint: "ep"}); err != nil {
			failed++
		} else if body != "ok" {
			t.Fatalf("answer %q", body)
		}
	}
	if failed > 1 {
		t.Fatalf("%d of 50 requests failed; want at most the first that reached the broken instance", failed)
	}
	// Alone, a broken instance still gets the requests: nothing else can.
	r.Set(Endpoint{Name: "ep", Variants: []Variant{{Name: "v", Weight: 1, Instances: []Instance{broken}}}})
	if _, _, err := invoke(t, r, Invocation{Endpoint: "ep"}); err == nil || errors.Is(err, ErrNoCapacity) {
		t.Fatalf("alone: %v, want its broken connection's error", err)
	}
}
