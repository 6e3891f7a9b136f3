package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ebbscale/ebb/internal/api"
	"github.com/ebbscale/ebb/internal/api/autoscaling"
	"github.com/ebbscale/ebb/internal/api/cloudwatch"
	"github.com/ebbscale/ebb/internal/api/cwlogs"
	"github.com/ebbscale/ebb/internal/api/sagemaker"
	"github.com/ebbscale/ebb/internal/api/sigv4"
	"github.com/ebbscale/ebb/internal/api/smruntime"
	"github.com/ebbscale/ebb/internal/asyncinv"
	"github.com/ebbscale/ebb/internal/autoscaler"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/console"
	"github.com/ebbscale/ebb/internal/emitter"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/leader"
	"github.com/ebbscale/ebb/internal/logs"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/modeldata"
	"github.com/ebbscale/ebb/internal/modelmetrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/objstore"
	"github.com/ebbscale/ebb/internal/replica"
	"github.com/ebbscale/ebb/internal/requestlog"
	"github.com/ebbscale/ebb/internal/router"
	"github.com/ebbscale/ebb/internal/runtime"
	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/postgres"
	"github.com/ebbscale/ebb/internal/store/sqlite"
)

// serverConfig is ebb server's configuration: defaults, then flags, then validate.
type serverConfig struct {
	Listen            string
	Data              string
	Region            string
	AccountID         string
	TimeScale         float64
	TimeScaleEpoch    string
	LogLevel          string
	Credentials       string
	InsecureListenAny bool
	InstanceLimit     int
	ColdStartBuffer   int
	ColdStartTimeout  time.Duration
	ServerlessIdle    time.Duration
	Webhooks          webhooks
	S3Endpoint        string
	AllowedHosts      stringList
	MaxInflightBytes  int64
	BodyReadTimeout   time.Duration
	Runtime           string
	// Runtimes holds every registered runtime's configuration, by name;
	// runtimeFlags names the runtime each of their flags belongs to, and
	// setFlags the flags given.
	Runtimes     map[string]runtime.Config
	runtimeFlags map[string]string
	setFlags     map[string]string
	StartLimit   time.Duration
	AdvertiseURL string
	Store        string
	HALease      string
	// The election's timings (client-go's LeaseDuration, RenewDeadline,
	// RetryPeriod); see leader.DefaultLeaseDuration for the trade-off.
	HALeaseDuration, HARenewDeadline, HARetryPeriod time.Duration
	LogRetentionDays                                int
	RequestLog                                      string
	// ModelDataRoots and MaxModelBytes bound local model data (runtimes
	// with LocalModelData).
	ModelDataRoots stringList
	MaxModelBytes  int64
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	if v == "" {
		return errors.New("must not be empty")
	}
	*l = append(*l, v)
	return nil
}

// webhooks maps SNS topic ARNs to URLs (--sns-webhook ARN=URL, repeatable).
type webhooks map[string]string

func (w *webhooks) String() string { return fmt.Sprint(map[string]string(*w)) }

func (w *webhooks) Set(v string) error {
	arn, url, ok := strings.Cut(v, "=")
	if !ok || !strings.HasPrefix(arn, "arn:") || !(strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://")) {
		return fmt.Errorf("want ARN=URL, e.g. arn:aws:sns:us-east-1:123456789012:done=http://127.0.0.1:9000/hook")
	}
	if *w == nil {
		*w = webhooks{}
	}
	(*w)[arn] = url
	return nil
}

func defaultServerConfig() serverConfig {
	return serverConfig{
		Listen:           "127.0.0.1:8080",
		Data:             "./ebb-data",
		Region:           "us-east-1",
		AccountID:        "123456789012",
		TimeScale:        1,
		LogLevel:         "info",
		InstanceLimit:    hosting.DefaultInstanceLimit,
		ColdStartBuffer:  router.DefaultColdStartBuffer,
		ColdStartTimeout: router.DefaultColdStartTimeout,
		ServerlessIdle:   hosting.DefaultServerlessIdle,
		MaxInflightBytes: 256 << 20,
		BodyReadTimeout:  api.DefaultBodyReadTimeout,
		Runtime:          "process",
		Runtimes:         runtimeConfigs(),
		LogRetentionDays: logs.DefaultRetentionDays,
		MaxModelBytes:    modeldata.DefaultMaxBytes,
		StartLimit:       runtime.DefaultStartLimit,
		HALeaseDuration:  leader.DefaultLeaseDuration,
		HARenewDeadline:  leader.DefaultRenewDeadline,
		HARetryPeriod:    leader.DefaultRetryPeriod,
	}
}

func (c *serverConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Listen, "listen", c.Listen, "address of the one HTTP listener for every API")
	fs.StringVar(&c.Data, "data", c.Data, "data directory: SQLite database, instance working directories, logs")
	fs.StringVar(&c.Region, "region", c.Region, "AWS region used in ARNs")
	fs.StringVar(&c.AccountID, "account-id", c.AccountID, "AWS account id used in ARNs (12 digits)")
	fs.Float64Var(&c.TimeScale, "time-scale", c.TimeScale, "run periods, cooldowns and schedules this many times faster (demos, tests)")
	fs.StringVar(&c.TimeScaleEpoch, "time-scale-epoch", c.TimeScaleEpoch, "with --time-scale: the wall time (RFC 3339) from which scaled time runs faster; replicas sharing a store need the same one (default: when ebb starts)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.Credentials, "credentials", c.Credentials, "file of access keys (\"AKID SECRET\" per line, or JSON); requests must then be SigV4-signed with one of them")
	fs.BoolVar(&c.InsecureListenAny, "insecure-listen-any", c.InsecureListenAny, "allow a non-loopback --listen address without --credentials")
	fs.IntVar(&c.InstanceLimit, "instance-limit", c.InstanceLimit, "maximum instances of each instance type across all endpoints (the account quota)")
	fs.IntVar(&c.ColdStartBuffer, "cold-start-buffer", c.ColdStartBuffer, "requests per endpoint held while an autoscaled variant starts from zero instances (or an inference component from zero copies); 0 turns cold starts off: such requests fail at once, as on AWS")
	fs.DurationVar(&c.ColdStartTimeout, "cold-start-timeout", c.ColdStartTimeout, "how long a request may wait for an instance to start from zero")
	fs.DurationVar(&c.ServerlessIdle, "serverless-idle", c.ServerlessIdle, "how long an environment of a serverless variant stays after it was last needed")
	fs.StringVar(&c.S3Endpoint, "s3-endpoint", c.S3Endpoint, "keep async payloads in this external S3-compatible store (path style; keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) instead of ebb's own")
	fs.Var(&c.AllowedHosts, "allowed-host", "without --credentials, also serve requests whose Host is this name or host:port (repeatable; loopback names and --listen always are)")
	fs.Int64Var(&c.MaxInflightBytes, "max-inflight-bytes", c.MaxInflightBytes, "request body bytes held in memory at once across all requests; beyond it requests get 503 ThrottlingException")
	fs.DurationVar(&c.BodyReadTimeout, "body-read-timeout", c.BodyReadTimeout, "how long a client may take to send a request body (S3 objects: one more second per MiB); slower ones get 400 RequestTimeout")
	fs.StringVar(&c.Store, "store", c.Store, "where state lives: empty for the embedded SQLite file in --data, or a PostgreSQL URL (postgres://user:password@host:5432/db)")
	fs.StringVar(&c.HALease, "ha-lease", c.HALease, "run as one of several replicas: the Kubernetes Lease whose holder leads (needs --runtime kubernetes, --store postgres://... and --advertise-url, this replica's URL)")
	fs.DurationVar(&c.HALeaseDuration, "ha-lease-duration", c.HALeaseDuration, "with --ha-lease: how long followers wait after the leader's last renewal before one takes over (a killed leader is replaced after about this long)")
	fs.DurationVar(&c.HARenewDeadline, "ha-renew-deadline", c.HARenewDeadline, "with --ha-lease: how long the leader keeps trying to renew before it gives the lease up and stops (less than --ha-lease-duration)")
	fs.DurationVar(&c.HARetryPeriod, "ha-retry-period", c.HARetryPeriod, "with --ha-lease: how often replicas renew or try to take the lease")
	fs.StringVar(&c.RequestLog, "request-log", c.RequestLog, "append one CSV line per invocation to this file (a trace for ebb simulate: --service-time-column ModelLatencyMs)")
	fs.IntVar(&c.LogRetentionDays, "log-retention-days", c.LogRetentionDays, "with --runtime "+strings.Join(logRuntimes(), " or ")+": how many days instance logs (CloudWatch Logs group /aws/sagemaker/Endpoints/NAME) are kept; one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, ...); each instance's stream also keeps at most 64 MiB")
	fs.StringVar(&c.Runtime, "runtime", c.Runtime, "where instances run: "+runtimeSummaries())
	fs.DurationVar(&c.StartLimit, "instance-start-limit", c.StartLimit, "how long an instance may take to pass its first health check (SageMaker: 4 minutes)")
	fs.Var(&c.ModelDataRoots, "model-data-root", "with --runtime "+strings.Join(localDataRuntimes(), " or ")+": directory a local or file:// ModelDataUrl may be under (repeatable; default: the data directory and the working directory)")
	fs.Int64Var(&c.MaxModelBytes, "max-model-bytes", c.MaxModelBytes, "with --runtime "+strings.Join(localDataRuntimes(), " or ")+": most bytes one model may take (an archive may also expand at most 100 times its size)")
	fs.StringVar(&c.AdvertiseURL, "advertise-url", c.AdvertiseURL, "with --runtime "+strings.Join(sharedRuntimes(), " or ")+": ebb's URL as instances (and the other replicas) reach it, for s3:// model data from ebb's own S3 API (default: --s3-endpoint)")
	c.runtimeFlags = map[string]string{}
	for _, r := range runtime.Registered() {
		before := map[string]bool{}
		fs.VisitAll(func(f *flag.Flag) { before[f.Name] = true })
		c.Runtimes[r.Name].Flags(fs)
		fs.VisitAll(func(f *flag.Flag) {
			if !before[f.Name] {
				c.runtimeFlags[f.Name] = r.Name
			}
		})
	}
	fs.Var(&c.Webhooks, "sns-webhook", "deliver async notifications for an SNS topic to a URL: ARN=URL (repeatable)")
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`)
	accountRE = regexp.MustCompile(`^\d{12}$`)
)

// validate reports every problem at once, naming the flag.
func (c *serverConfig) validate() error {
	var errs []error
	bad := func(flag string, value any, why string) {
		errs = append(errs, fmt.Errorf("--%s=%v: %s", flag, value, why))
	}
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		bad("listen", c.Listen, "want host:port, e.g. 127.0.0.1:8080")
	} else if !isLoopback(host) && c.Credentials == "" && !c.InsecureListenAny {
		bad("listen", c.Listen, "not a loopback address: without --credentials anyone who reaches it could run commands here (model images are command lines); give --credentials FILE, or --insecure-listen-any if you mean it")
	}
	if c.Data == "" {
		bad("data", c.Data, "must not be empty")
	}
	if !regionRE.MatchString(c.Region) {
		bad("region", c.Region, "want a region name such as us-east-1")
	}
	if !accountRE.MatchString(c.AccountID) {
		bad("account-id", c.AccountID, "want 12 digits")
	}
	if !slices.Contains(logs.RetentionDays, c.LogRetentionDays) {
		bad("log-retention-days", c.LogRetentionDays, fmt.Sprintf("want one of CloudWatch Logs' retention values %v", logs.RetentionDays))
	}
	if !(c.TimeScale > 0) {
		bad("time-scale", c.TimeScale, "must be greater than 0")
	}
	if c.TimeScaleEpoch != "" {
		if _, err := time.Parse(time.RFC3339Nano, c.TimeScaleEpoch); err != nil {
			bad("time-scale-epoch", c.TimeScaleEpoch, "want an RFC 3339 time such as 2026-12-01T10:00:00Z")
		} else if c.TimeScale == 1 {
			bad("time-scale-epoch", c.TimeScaleEpoch, "needs --time-scale")
		}
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		bad("log-level", c.LogLevel, err.Error())
	}
	if c.InstanceLimit < 1 {
		bad("instance-limit", c.InstanceLimit, "must be at least 1")
	}
	if c.ColdStartBuffer < 0 {
		bad("cold-start-buffer", c.ColdStartBuffer, "must not be negative")
	}
	if c.S3Endpoint != "" && !strings.HasPrefix(c.S3Endpoint, "http://") && !strings.HasPrefix(c.S3Endpoint, "https://") {
		bad("s3-endpoint", c.S3Endpoint, "want an http:// or https:// URL")
	}
	if c.MaxInflightBytes < 8<<20 {
		bad("max-inflight-bytes", c.MaxInflightBytes, "must be at least 8388608 (one largest request)")
	}
	if c.BodyReadTimeout <= 0 {
		bad("body-read-timeout", c.BodyReadTimeout, "must be positive")
	}
	if c.ServerlessIdle <= 0 {
		bad("serverless-idle", c.ServerlessIdle, "must be positive")
	}
	if c.ColdStartTimeout <= 0 {
		bad("cold-start-timeout", c.ColdStartTimeout, "must be positive")
	}
	if c.MaxModelBytes <= 0 {
		bad("max-model-bytes", c.MaxModelBytes, "must be positive")
	}
	if reg, ok := runtime.Lookup(c.Runtime); !ok {
		bad("runtime", c.Runtime, "want one of "+strings.Join(runtime.Names(nil), ", "))
	} else {
		for flag, owner := range c.runtimeFlags {
			if v, set := c.setFlags[flag]; set && owner != reg.Name {
				bad(flag, v, "applies only with --runtime "+owner)
			}
		}
		if err := c.Runtimes[reg.Name].Validate(); err != nil {
			errs = append(errs, err)
		}
		if c.LogRetentionDays != logs.DefaultRetentionDays && !reg.Logs {
			bad("log-retention-days", c.LogRetentionDays, "applies only where ebb keeps the instances' logs (--runtime "+strings.Join(logRuntimes(), " or ")+")")
		}
		if !reg.LocalModelData {
			for _, flag := range []string{"model-data-root", "max-model-bytes"} {
				if v, set := c.setFlags[flag]; set {
					bad(flag, v, "applies only with --runtime "+strings.Join(localDataRuntimes(), " or "))
				}
			}
		}
		if c.AdvertiseURL != "" && !reg.Shared {
			bad("advertise-url", c.AdvertiseURL, "applies only with --runtime "+strings.Join(sharedRuntimes(), " or "))
		}
	}
	if c.AdvertiseURL != "" && !strings.HasPrefix(c.AdvertiseURL, "http://") && !strings.HasPrefix(c.AdvertiseURL, "https://") {
		bad("advertise-url", c.AdvertiseURL, "want an http:// or https:// URL")
	}
	if c.StartLimit <= 0 {
		bad("instance-start-limit", c.StartLimit, "must be positive")
	}
	if !(c.HARetryPeriod > 0 && c.HARenewDeadline > c.HARetryPeriod && c.HALeaseDuration > c.HARenewDeadline) {
		bad("ha-lease-duration", c.HALeaseDuration.String(), fmt.Sprintf("the election needs --ha-lease-duration > --ha-renew-deadline (%v) > --ha-retry-period (%v) > 0", c.HARenewDeadline, c.HARetryPeriod))
	}
	if reg, _ := runtime.Lookup(c.Runtime); c.HALease != "" && (!reg.Shared || c.Store == "" || c.AdvertiseURL == "") {
		bad("ha-lease", c.HALease, "several replicas need --runtime "+strings.Join(sharedRuntimes(), " or ")+", --store postgres://... and --advertise-url (the URL the other replicas reach this one at); the other runtimes run one replica")
	}
	if c.Store != "" && !strings.HasPrefix(c.Store, "postgres://") && !strings.HasPrefix(c.Store, "postgresql://") {
		bad("store", c.Store, "want a postgres:// URL, or nothing for the embedded SQLite file")
	}
	return errors.Join(errs...)
}

// runtimeConfigs returns every registered runtime's default configuration.
func runtimeConfigs() map[string]runtime.Config {
	out := map[string]runtime.Config{}
	for _, r := range runtime.Registered() {
		out[r.Name] = r.Config()
	}
	return out
}

// runtimeSummaries lists the runtimes for --runtime's help.
func runtimeSummaries() string {
	var s []string
	for _, r := range runtime.Registered() {
		s = append(s, fmt.Sprintf("%s (%s)", r.Name, r.Summary))
	}
	return strings.Join(s, ", ")
}

// sharedRuntimes names the runtimes whose instances every replica reaches.
func sharedRuntimes() []string {
	return runtime.Names(func(r runtime.Registration) bool { return r.Shared })
}

// logRuntimes names the runtimes whose instances' logs ebb keeps.
func logRuntimes() []string {
	return runtime.Names(func(r runtime.Registration) bool { return r.Logs })
}

func localDataRuntimes() []string {
	return runtime.Names(func(r runtime.Registration) bool { return r.LocalModelData })
}

// newRuntime builds the runtime --runtime names.
func newRuntime(ctx context.Context, c serverConfig, st store.Store, instanceLogs *logs.Store, log *slog.Logger) (runtime.Runtime, error) {
	env := runtime.Env{Data: c.Data, StartLimit: c.StartLimit, Region: c.Region, S3URL: c.S3Endpoint, Logger: log,
		ModelDataRoots: c.ModelDataRoots, MaxModelBytes: c.MaxModelBytes}
	if len(env.ModelDataRoots) == 0 {
		wd, _ := os.Getwd()
		env.ModelDataRoots = []string{c.Data, wd}
	}
	for i, r := range env.ModelDataRoots {
		if abs, err := filepath.Abs(r); err == nil {
			env.ModelDataRoots[i] = abs
		}
	}
	if env.S3URL == "" {
		env.S3URL = c.AdvertiseURL
	}
	if instanceLogs != nil {
		env.Logs = instanceLogs
	}
	// Several replicas: a deposed leader's writes outside this machine (to
	// the Kubernetes API) are refused like its writes to PostgreSQL.
	if pg, ok := st.(*postgres.Postgres); ok && c.HALease != "" {
		env.Fence = pg.CheckFence
	}
	return c.Runtimes[c.Runtime].New(ctx, env)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := defaultServerConfig()
	fs := newFlags("server", "Serve the SageMaker, SageMaker Runtime, CloudWatch and Application Auto Scaling APIs on one listener,\nrunning endpoint instances as local processes or, with --runtime kubernetes, as pods in a cluster.\nThe web console is at /console/ on the same listener.", stderr)
	c.flags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	c.setFlags = map[string]string{}
	fs.Visit(func(f *flag.Flag) { c.setFlags[f.Name] = f.Value.String() })
	if err := c.validate(); err != nil {
		return usageError{err}
	}
	level, _ := parseLevel(c.LogLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	return serve(ctx, c, log, nil)
}

// serve runs the server until ctx ends. If ready is not nil it receives the
// listening address.
func serve(ctx context.Context, c serverConfig, log *slog.Logger, ready chan<- string) error {
	var verifier *sigv4.Verifier
	var secrets map[string]string
	if c.Credentials != "" {
		var err error
		if secrets, err = sigv4.LoadFile(c.Credentials); err != nil {
			return fmt.Errorf("--credentials: %w", err)
		}
		verifier = sigv4.New(secrets)
		verifier.Region = c.Region
		log.Info("verifying SigV4 signatures", "access_keys", len(secrets))
	}
	if err := os.MkdirAll(c.Data, 0o755); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	unlock, err := lockDir(c.Data)
	if err != nil {
		return err
	}
	defer unlock()

	st, err := openStore(ctx, c, log)
	if err != nil {
		return err
	}
	defer st.Close()

	// Every clock of this server counts scaled time from the same instant.
	if c.TimeScale != 1 && c.TimeScaleEpoch == "" {
		c.TimeScaleEpoch = time.Now().Format(time.RFC3339Nano)
	}
	// Instance logs (the process runtime's instances write files the
	// store follows) are read once more after the instances have stopped:
	// deferred before hosting's stop, this runs after it.
	var instanceLogs *logs.Store
	if r, _ := runtime.Lookup(c.Runtime); r.Logs {
		// Polled every half second of real time, whatever --time-scale.
		poll := time.Duration(float64(logs.DefaultPollInterval) * c.TimeScale)
		if instanceLogs, err = logs.Open(logs.Options{Dir: filepath.Join(c.Data, "cwlogs"), Clock: newClock(c), PollInterval: poll,
			RetentionDays: c.LogRetentionDays, Logger: log.With("component", "logs")}); err != nil {
			return fmt.Errorf("instance logs: %w", err)
		}
		lctx, stopLogs := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); instanceLogs.Run(lctx) }()
		defer func() { stopLogs(); <-done; instanceLogs.Collect() }()
	}

	rt, err := newRuntime(ctx, c, st, instanceLogs, log.With("component", "runtime"))
	if err != nil {
		return err
	}
	if d, ok := rt.(runtime.Detacher); ok {
		defer d.Detach() // after hosting has closed: deferred calls run last-in first-out
	}

	ln, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	admission := &api.Admission{
		AllowedHosts:     append([]string{c.Listen, ln.Addr().String()}, c.AllowedHosts...),
		MaxInflightBytes: c.MaxInflightBytes,
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), store.WriteErrors)
	front := apiFront{Verifier: verifier, Credentials: secrets, Admission: admission, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		Prometheus:      emitter.NewPrometheus(reg),
		BodyReadTimeout: c.BodyReadTimeout, Logger: log.With("component", "api")}
	if instanceLogs != nil {
		front.Logs = cwlogs.New(instanceLogs, c.Region, c.AccountID)
		front.InstanceLogs = instanceLogs
	}

	// The handler in use: the services' (a single server, or the leader),
	// or the forwarder to the leader (a follower).
	var current atomic.Pointer[http.Handler]
	errc := make(chan error, 2)
	if c.HALease == "" {
		h, stop, err := startServices(ctx, c, log, st, rt, reg, front)
		if err != nil {
			return err
		}
		defer stop()
		current.Store(&h)
	} else {
		stop, err := elect(ctx, c, log, st, rt, reg, front, &current, errc)
		if err != nil {
			return err
		}
		defer stop()
	}

	// Slow clients: headers within 10 s and 64 KiB, bodies within the
	// handler's body read deadline.
	srv := api.NewFront(func() http.Handler { return *current.Load() }, log.With("component", "http"))
	go func() { errc <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	log.Info("ebb server listening", "addr", addr, "data", c.Data, "region", c.Region, "account_id", c.AccountID,
		"endpoint_url", "http://"+addr, "console", "http://"+addr+"/console/")
	if ready != nil {
		ready <- addr
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		// Bounded: calls a follower holds for a leader could keep this
		// replica (and, until stop gives it up, the Lease) for long.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		return err
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}

// apiFront is what every replica's API handler shares: admission,
// signatures, /metrics.
type apiFront struct {
	Verifier  *sigv4.Verifier
	Admission *api.Admission
	Metrics   http.Handler
	// Prometheus receives the invocation metrics of whichever router
	// serves: a follower's, then the leader's.
	Prometheus      *emitter.Prometheus
	BodyReadTimeout time.Duration
	Logger          *slog.Logger
	// Logs serves instance logs (nil on Kubernetes).
	Logs *cwlogs.Handler
	// InstanceLogs are the logs themselves (the console reads them).
	InstanceLogs *logs.Store
	// Credentials are --credentials' keys (people sign in to the console
	// with them); nil without.
	Credentials map[string]string
}

// startServices starts hosting, the metric store, alarms, the autoscaler,
// async inference and their loops, and returns the API handler that serves
// them and stop, which stops the loops and then hosting.
func startServices(ctx context.Context, c serverConfig, log *slog.Logger, st store.Store, rt runtime.Runtime,
	reg *prometheus.Registry, front apiFront) (http.Handler, func(), error) {
	var cleanups []func()
	stop := func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	fail := func(err error) (http.Handler, func(), error) {
		stop()
		return nil, nil, err
	}
	clk := newClock(c)
	if c.TimeScale != 1 {
		log.Info("time runs faster", "time_scale", c.TimeScale)
	}
	// The router's cold starts and hosting's deleted endpoints reach the
	// autoscaler through channels: construction runs bottom-up (router and
	// hosting before the autoscaler that uses them).
	coldStarts := make(chan router.ColdStartRequest)
	demand := make(chan router.Demand, 64) // serverless variants' asks for environments
	ro := router.Options{ColdStarts: coldStarts, ColdStartBuffer: c.ColdStartBuffer, ColdStartTimeout: c.ColdStartTimeout, Demand: demand}
	if p, ok := rt.(runtime.ArtifactPreparer); ok {
		ro.Artifacts = p.Artifacts(filepath.Join(c.Data, "multimodel"))
	}
	var reqLog *requestlog.Log
	if c.RequestLog != "" {
		l, err := requestlog.Open(c.RequestLog)
		if err != nil {
			return fail(fmt.Errorf("--request-log: %w", err))
		}
		reqLog = l
		ro.RequestLog = reqLog
		cleanups = append(cleanups, func() { reqLog.Close() })
	}
	rtr := router.New(ro)
	deleted := make(chan string, 64)
	// Several replicas: the leader publishes its routing table for the
	// followers and takes in the metrics they measured.
	var routes hosting.Routes = rtr
	var publisher *replica.Publisher
	mailbox, replicated := st.(replica.Mailbox)
	if c.HALease != "" && replicated {
		publisher = replica.NewPublisher(rtr, st, clk, log.With("component", "replica"))
		routes = publisher
	}
	ms, err := metrics.Open(st)
	if err != nil {
		return fail(fmt.Errorf("loading metrics: %w", err))
	}
	mon, err := monitor.New(ctx, monitor.Options{Store: st, Metrics: ms, Clock: clk, Logger: log.With("component", "alarms"), Region: c.Region, AccountID: c.AccountID})
	if err != nil {
		return fail(fmt.Errorf("loading alarms: %w", err))
	}
	ho := hosting.Options{Deleted: deleted,
		Store: st, Runtime: rt, RuntimeName: c.Runtime, Routes: routes, Clock: clk,
		Region: c.Region, AccountID: c.AccountID, InstanceLimit: c.InstanceLimit,
		Logger: log.With("component", "hosting"), ServerlessIdle: c.ServerlessIdle,
	}
	// This router serves every invocation of serverless variants (with
	// several replicas, the followers hand them to it), so what it holds
	// is what they need.
	ho.PeakInFlight, ho.Demand = rtr.PeakInFlight, demand
	// Deployments roll back on their alarms' state.
	ho.AlarmState = func(name string) (string, bool) {
		_, state, ok := mon.Lookup(name)
		return string(state), ok
	}
	hs := hosting.New(ho)
	if err := hs.Start(ctx); err != nil {
		return fail(err)
	}
	cleanups = append(cleanups, func() {
		log.Info("stopping instances")
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if err := hs.Close(sctx); err != nil {
			log.Error("stopping instances", "err", err)
		}
	})
	// The loops stop (and are waited for) before hosting closes.
	loops, stopLoops := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(loop func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); loop(loops) }()
	}
	cleanups = append(cleanups, func() { stopLoops(); wg.Wait() })
	run((&emitter.Emitter{Router: rtr, Hosting: hs, Store: &metrics.Held{Store: ms}, Clock: clk, Logger: log.With("component", "emitter"),
		Prometheus: front.Prometheus}).Run)
	run((&modelmetrics.Scraper{Hosting: hs, Store: &metrics.Held{Store: ms}, Clock: clk, Logger: log.With("component", "modelmetrics")}).Run)
	run(func(ctx context.Context) { ms.RunRetention(ctx, clk, log.With("component", "metrics")) })
	if reqLog != nil {
		run(func(ctx context.Context) {
			clock.Every(ctx, clock.Real{}, requestlog.FlushEvery, func(time.Time) { reqLog.Flush() })
		})
	}
	if publisher != nil {
		run(publisher.Run)
		run(func(ctx context.Context) { replica.Inbox(ctx, clk, mailbox, ms, log.With("component", "replica")) })
	}
	as, err := autoscaler.New(ctx, autoscaler.Options{Store: st, Hosting: hs, Alarms: mon, Metrics: ms, Clock: clk,
		Region: c.Region, AccountID: c.AccountID, Logger: log.With("component", "autoscaler"), EndpointsDeleted: deleted, ColdStarts: coldStarts})
	if err != nil {
		return fail(fmt.Errorf("loading scaling targets: %w", err))
	}
	// The one late binding, closing a real cycle: alarms deliver their
	// actions to the autoscaler, which creates and reads alarms.
	mon.SetActions(as)
	run(mon.Run)
	run(as.Run)
	objects := objstore.New(filepath.Join(c.Data, "s3"))
	objects.Logger = log.With("component", "s3")
	var payloads asyncinv.Objects = objects
	if c.S3Endpoint != "" {
		payloads = objstore.NewRemote(c.S3Endpoint, c.Region)
		log.Info("async payloads in an external S3 store", "s3_endpoint", c.S3Endpoint)
	}
	async, err := asyncinv.New(ctx, asyncinv.Options{Store: st, Hosting: hs, Router: rtr, Objects: payloads, Metrics: &metrics.Held{Store: ms}, Clock: clk,
		Logger: log.With("component", "async"), Webhooks: c.Webhooks, Region: c.Region})
	if err != nil {
		return fail(fmt.Errorf("loading the async queue: %w", err))
	}
	run(async.Run)
	sm := sagemaker.New(hs, as.AutoscaledVariants)
	if c.HALease != "" && c.S3Endpoint == "" {
		// ebb's own S3 store is the leader's disk: what async inference
		// writes there would be lost with the leader.
		sm.RefuseConfig = map[string]string{"AsyncInferenceConfig": "asynchronous inference with ebb's own S3 store when it runs as several replicas (that store is one replica's disk; start the replicas with --s3-endpoint)"}
	}
	co := console.Options{Endpoints: hs, Scaling: as, Alarms: mon, Metrics: ms, Clock: clk, Done: ctx.Done(),
		Credentials: front.Credentials, Logger: log.With("component", "console")}
	if front.InstanceLogs != nil {
		co.Logs = front.InstanceLogs
	}
	if n, ok := rt.(runtime.Noticer); ok {
		co.Notices = n.Notices
	}
	return api.NewHandler(api.Config{
		SageMaker:       sm,
		Console:         console.New(co),
		Runtime:         &smruntime.Handler{Router: rtr, Async: async, Region: c.Region, AccountID: c.AccountID},
		Objects:         objects,
		CloudWatch:      cloudwatch.New(ms, mon, st, clk),
		Autoscaling:     autoscaling.New(as),
		Logs:            front.Logs,
		Metrics:         front.Metrics,
		Verifier:        front.Verifier,
		Admission:       front.Admission,
		BodyReadTimeout: front.BodyReadTimeout,
		Logger:          front.Logger,
	}), stop, nil
}

// newClock is the clock of the loops: real time, or --time-scale's, from
// --time-scale-epoch when given so that replicas agree on the time.
func newClock(c serverConfig) clock.Clock {
	if c.TimeScale != 1 {
		s := clock.NewScaled(c.TimeScale)
		if epoch, err := time.Parse(time.RFC3339Nano, c.TimeScaleEpoch); err == nil {
			s.Epoch = epoch
		}
		return s
	}
	return clock.Real{}
}

// openStore opens --store: the SQLite file in the data directory, or
// PostgreSQL. Unless the runtime is Shared, the instances are this
// machine's, so one server only may use a PostgreSQL database: a second is
// refused at start.
func openStore(ctx context.Context, c serverConfig, log *slog.Logger) (store.Store, error) {
	if c.Store == "" {
		return sqlite.Open(ctx, filepath.Join(c.Data, "ebb.db"))
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pg, err := postgres.Open(octx, c.Store)
	if err != nil {
		return nil, err
	}
	if reg, _ := runtime.Lookup(c.Runtime); !reg.Shared {
		if err := pg.LockExclusive(octx); err != nil {
			pg.Close()
			return nil, err
		}
	}
	log.Info("state in PostgreSQL", "store", redactDSN(c.Store))
	return pg, nil
}

// redactDSN hides a DSN's password for the log.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "postgres://..."
	}
	return u.Redacted()
}

// lockDir takes an exclusive lock on the data directory so that two
// servers never share one database and instance directory.
func lockDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("--data %s is in use by another ebb server (%v); stop it or choose another directory", dir, strings.TrimSpace(err.Error()))
	}
	return func() { f.Close() }, nil
}
