package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/autoscaler"
	"github.com/ebbscale/ebb/internal/clock"
	"github.com/ebbscale/ebb/internal/hosting"
	"github.com/ebbscale/ebb/internal/logs"
	"github.com/ebbscale/ebb/internal/metricquery"
	"github.com/ebbscale/ebb/internal/metrics"
	"github.com/ebbscale/ebb/internal/monitor"
	"github.com/ebbscale/ebb/internal/store"
)

// Prefix is where the console is served.
const Prefix = "/console/"

// Endpoints is what the console reads of hosting.
type Endpoints interface {
	ListEndpoints(ctx context.Context, q hosting.ListQuery) ([]hosting.EndpointView, string, error)
	DescribeEndpoint(ctx context.Context, name string) (hosting.EndpointView, error)
	ListInferenceComponents(ctx context.Context, q hosting.ComponentQuery) ([]hosting.ComponentView, string, error)
}

// Scaling is what the console reads of Application Auto Scaling.
type Scaling interface {
	Policies(ns string, names []string, id, dim string) []autoscaler.PolicyView
	Scheduled(ns string, names []string, id, dim string) []autoscaler.ScheduledView
	Activities(ctx context.Context, ns, id, dim string, includeNotScaled bool, since time.Time) ([]autoscaler.Activity, error)
}

// Alarms is what the console reads of CloudWatch alarms.
type Alarms interface {
	Describe(monitor.Filter) []monitor.MetricAlarm
	History(ctx context.Context, name, typ string, start, end time.Time) ([]store.HistoryItem, error)
}

// Logs is what the console reads of instance logs.
type Logs interface {
	Streams(group string) ([]logs.Stream, error)
	Events(group, stream string, fn func(logs.Event) bool) error
}

// MetricStore is what the console reads of the metric store: statistics,
// and which series exist (ListMetrics).
type MetricStore interface {
	metricquery.Store
	List(namespace, metricName string, dims []metrics.Dimension, since time.Time) []metrics.Series
}

// Options wires the console to the services it shows.
type Options struct {
	Endpoints Endpoints
	Scaling   Scaling
	Alarms    Alarms
	// Metrics is the metric store GetMetricData reads.
	Metrics MetricStore
	// Logs are the instances' logs; nil where there are none to read
	// (the Kubernetes runtime: kubectl logs).
	Logs Logs
	// Clock is ebb's clock (scaled with --time-scale): the time the
	// charts and timelines are drawn in.
	Clock clock.Clock
	// Wall paces live pages in real time (default clock.Real).
	Wall clock.Clock
	// Refresh is how often, in real time, a live page is sent what changed
	// (default 2 s).
	Refresh time.Duration
	// Done, when closed, ends the live pages' streams (the server is
	// stopping: net/http and fasthttp wait for handlers that are still
	// writing, and a request's context is not cancelled by the front).
	Done <-chan struct{}
	// Credentials, access key ID -> secret access key, are what a person
	// signs in with; nil leaves the console open (the API's admission
	// keeps it to loopback and allowed hosts).
	Credentials map[string]string
	// Notices, when set, are conditions a person should see on every page
	// (runtime.Noticer).
	Notices func() []string
	Logger  *slog.Logger
}

//go:embed templates static
var files embed.FS

// Handler serves the console under Prefix.
type Handler struct {
	o     Options
	mux   *http.ServeMux
	pages map[string]*template.Template
}

// New returns the console's handler.
func New(o Options) *Handler {
	if o.Wall == nil {
		o.Wall = clock.Real{}
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Refresh <= 0 {
		o.Refresh = 2 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{o: o, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	funcs := template.FuncMap{"when": h.when, "join": strings.Join, "num": trimFloat,
		"percent": func(f float64) string { return trimFloat(math.Round(f*1000)/10) + "%" },
		"json":    func(v any) string { b, _ := json.MarshalIndent(v, "", "  "); return string(b) }}
	for _, page := range []string{"endpoints", "endpoint", "logs", "report", "login"} {
		h.pages[page] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+page+".html"))
	}
	static, _ := fs.Sub(files, "static")
	h.mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", cacheFor(time.Hour, http.FileServerFS(static))))
	h.mux.HandleFunc("GET "+Prefix+"{$}", h.endpoints)
	h.mux.HandleFunc("GET "+Prefix+"endpoints/{name}", h.endpoint)
	h.mux.HandleFunc("GET "+Prefix+"endpoints/{name}/live", h.live)
	h.mux.HandleFunc("GET "+Prefix+"endpoints/{name}/logs", h.logsPage)
	h.mux.HandleFunc("GET "+Prefix+"endpoints/{name}/logs/live", h.logsLive)
	h.mux.HandleFunc("GET "+Prefix+"report", h.report)
	h.mux.HandleFunc("GET "+Prefix+"login", h.loginPage)
	h.mux.HandleFunc("POST "+Prefix+"login", h.login)
	h.mux.HandleFunc("POST "+Prefix+"logout", h.logout)
	return h
}

// ServeHTTP serves a console request; without a session (when credentials
// are configured) every page but the sign-in page and the assets sends the
// browser to sign in.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "same-origin")
	if h.o.Credentials != nil && !strings.HasPrefix(r.URL.Path, Prefix+"static/") && r.URL.Path != Prefix+"login" {
		if _, ok := h.session(r); !ok {
			if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, "/live") {
				http.Redirect(w, r, Prefix+"login?next="+template.URLQueryEscaper(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "Sign in to the console first.", http.StatusUnauthorized)
			return
		}
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// cacheFor lets browsers keep the embedded assets, which change only with
// the binary.
func cacheFor(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age="+strconv.Itoa(int(d.Seconds())))
		next.ServeHTTP(w, r)
	})
}

// render writes a page; data is the page's own, the layout gets the title.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, page, title string, data any) {
	_, signedIn := h.session(r)
	// Rendered whole before anything is sent: a template that fails is a
	// 500 the browser (and a test) sees, not half a page.
	var buf bytes.Buffer
	var notices []string
	if h.o.Notices != nil {
		notices = h.o.Notices()
	}
	err := h.pages[page].Execute(&buf, map[string]any{"Title": title, "Page": page, "Data": data,
		"SignedIn": signedIn && h.o.Credentials != nil, "Now": h.o.Clock.Now(), "Notices": notices})
	if err != nil {
		h.o.Logger.Error("rendering a console page", "page", page, "err", err)
		http.Error(w, "The console could not render this page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write(buf.Bytes())
}

// when formats a time of ebb's clock for a page.
func (h *Handler) when(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}
