package examplemodel

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config configures the model.
type Config struct {
	WorkPerRequest time.Duration // CPU per request
	WorkPerKB      time.Duration // extra CPU per KiB of payload
	ModelDir       string        // may hold model.json: {"seed": 7, "hidden": 64}
	// StreamTokens > 0 makes every answer a stream, as an LLM's: that many
	// text tokens, TokenDelay apart, each flushed as a chunk of its own
	// (chunked transfer encoding), the scores in the last.
	StreamTokens int
	TokenDelay   time.Duration
	// SessionTTL > 0 makes the model stateful: it opens, holds and closes
	// sessions as SageMaker's stateful-session contract says (session.go).
	SessionTTL time.Duration
	// ErrorRate is the share of invocations answered 500, as a broken
	// model version answers (0 to 1).
	ErrorRate float64
}

// Model is a deterministic MLP: input -> hidden (tanh) -> ... -> score.
type Model struct {
	cfg       Config
	hidden    int
	w         [][]float64 // hidden x hidden weights of the repeated layer
	in        []float64   // input projection seeds
	out       []float64
	perLayer  time.Duration
	startedAt time.Time
	sessions  sessions
}

type modelFile struct {
	Seed   uint64 `json:"seed"`
	Hidden int    `json:"hidden"`
}

// New builds the model (from ModelDir/model.json when present) and measures
// how long one layer takes on this machine, to size the work per request.
func New(cfg Config) (*Model, error) {
	mf := modelFile{Seed: 7, Hidden: 64}
	if cfg.ModelDir != "" {
		b, err := os.ReadFile(filepath.Join(cfg.ModelDir, "model.json"))
		if err == nil {
			if err := json.Unmarshal(b, &mf); err != nil {
				return nil, fmt.Errorf("model.json: %w", err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if mf.Hidden < 2 || mf.Hidden > 4096 {
		return nil, fmt.Errorf("model.json: hidden = %d, want 2..4096", mf.Hidden)
	}
	r := rand.New(rand.NewPCG(mf.Seed, mf.Seed^0x9e3779b97f4a7c15))
	m := &Model{cfg: cfg, hidden: mf.Hidden, startedAt: time.Now()}
	scale := 1 / math.Sqrt(float64(mf.Hidden))
	m.w = make([][]float64, mf.Hidden)
	for i := range m.w {
		m.w[i] = make([]float64, mf.Hidden)
		for j := range m.w[i] {
			m.w[i][j] = r.NormFloat64() * scale
		}
	}
	m.in = make([]float64, mf.Hidden)
	m.out = make([]float64, mf.Hidden)
	for i := range m.in {
		m.in[i] = r.NormFloat64()
		m.out[i] = r.NormFloat64() * scale
	}
	m.perLayer = m.calibrate()
	return m, nil
}

func (m *Model) calibrate() time.Duration {
	h := make([]float64, m.hidden)
	for i := range h {
		h[i] = 0.1
	}
	const n = 2000
	start := time.Now()
	for range n {
		h = m.layer(h)
	}
	d := time.Since(start) / n
	if d <= 0 {
		d = time.Nanosecond
	}
	return d
}

// layer is one dense tanh layer: the unit of work.
func (m *Model) layer(h []float64) []float64 {
	next := make([]float64, m.hidden)
	for i, row := range m.w {
		var s float64
		for j, x := range row {
			s += x * h[j]
		}
		next[i] = math.Tanh(s)
	}
	return next
}

// Predict scores rows, spending work of CPU in total.
func (m *Model) Predict(rows [][]float64, work time.Duration) []float64 {
	depth := max(1, int(work/m.perLayer)/max(1, len(rows)))
	scores := make([]float64, len(rows))
	for r, row := range rows {
		h := make([]float64, m.hidden)
		for i := range h {
			var s float64
			for j, x := range row {
				s += x * m.in[(i+j)%m.hidden]
			}
			h[i] = math.Tanh(s)
		}
		for range depth {
			h = m.layer(h)
		}
		var s float64
		for i, x := range h {
			s += x * m.out[i]
		}
		scores[r] = 1 / (1 + math.Exp(-s))
	}
	return scores
}

// Handler serves the container contract.
func (m *Model) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /invocations", m.invoke)
	return mux
}

func (m *Model) invoke(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "could not read the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if m.cfg.ErrorRate > 0 && rand.Float64() < m.cfg.ErrorRate {
		http.Error(w, "the model failed (--error-rate)", http.StatusInternalServerError)
		return
	}
	rows, err := parse(r.Header.Get("Content-Type"), body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Custom attributes come back, as containers that use them for request
	// tracing do.
	if ca := r.Header.Get("X-Amzn-SageMaker-Custom-Attributes"); ca != "" {
		w.Header().Set("X-Amzn-SageMaker-Custom-Attributes", ca)
	}
	if m.cfg.SessionTTL > 0 {
		if err := m.sessions.serve(w.Header(), r.Header, m.cfg.SessionTTL, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	work := m.cfg.WorkPerRequest + time.Duration(float64(m.cfg.WorkPerKB)*float64(len(body))/1024)
	scores := m.Predict(rows, work)
	if m.cfg.StreamTokens > 0 {
		m.stream(w, r, scores)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/csv") || (r.Header.Get("Accept") == "" && strings.Contains(r.Header.Get("Content-Type"), "csv")) {
		w.Header().Set("Content-Type", "text/csv")
		var b bytes.Buffer
		for _, s := range scores {
			b.WriteString(strconv.FormatFloat(s, 'f', 6, 64))
			b.WriteByte('\n')
		}
		w.Write(b.Bytes())
		return
	}
	type prediction struct {
		Score float64 `json:"score"`
	}
	out := struct {
		Predictions []prediction `json:"predictions"`
	}{Predictions: make([]prediction, len(scores))}
	for i, s := range scores {
		out.Predictions[i].Score = math.Round(s*1e6) / 1e6
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// stream answers token by token: "token-1 token-2 ... scores=s1,s2\n".
func (m *Model) stream(w http.ResponseWriter, r *http.Request, scores []float64) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	for i := 1; i <= m.cfg.StreamTokens; i++ {
		if i > 1 && m.cfg.TokenDelay > 0 {
			select {
			case <-time.After(m.cfg.TokenDelay):
			case <-r.Context().Done():
				return
			}
		}
		tok := "token-" + strconv.Itoa(i) + " "
		if i == m.cfg.StreamTokens {
			parts := make([]string, len(scores))
			for j, s := range scores {
				parts[j] = strconv.FormatFloat(s, 'f', 6, 64)
			}
			tok += "scores=" + strings.Join(parts, ",") + "\n"
		}
		io.WriteString(w, tok)
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// parse reads CSV or JSON rows of numbers.
func parse(contentType string, body []byte) ([][]float64, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errors.New("empty payload: send CSV rows of numbers or JSON {\"instances\": [[...]]}")
	}
	if strings.Contains(contentType, "json") || trimmed[0] == '{' || trimmed[0] == '[' {
		var doc struct {
			Instances [][]float64 `json:"instances"`
		}
		if trimmed[0] == '{' {
			if err := json.Unmarshal(trimmed, &doc); err != nil {
				return nil, fmt.Errorf("could not parse JSON input: %v", err)
			}
		} else if err := json.Unmarshal(trimmed, &doc.Instances); err != nil {
			var row []float64
			if err2 := json.Unmarshal(trimmed, &row); err2 != nil {
				return nil, fmt.Errorf("could not parse JSON input: %v", err)
			}
			doc.Instances = [][]float64{row}
		}
		if len(doc.Instances) == 0 {
			return nil, errors.New("no instances in JSON input")
		}
		return doc.Instances, nil
	}
	recs, err := csv.NewReader(bytes.NewReader(trimmed)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("could not parse CSV input: %v", err)
	}
	rows := make([][]float64, len(recs))
	for i, rec := range recs {
		for _, f := range rec {
			x, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil {
				return nil, fmt.Errorf("could not parse CSV input: line %d: %q is not a number", i+1, f)
			}
			rows[i] = append(rows[i], x)
		}
	}
	return rows, nil
}
