package sim

import (
	"math"
	"strconv"
	"time"

	"github.com/ebbscale/ebb/internal/modelmetrics"
)

// Engine is the LLM-like model of time per token, ebb example-model
// --llm's: each instance generates for up to Model.Concurrency requests at
// once, one token each per step, a step taking TimePerToken × (1 +
// BatchSlowdown × (batch − 1)), and a step that admits requests takes
// PrefillPerToken more per token of their prompts (their first token
// comes at its end). A request's latency is its time to first token; it
// holds its place in the batch until its last token.
type Engine struct {
	TimePerToken    time.Duration
	BatchSlowdown   float64
	PrefillPerToken time.Duration
}

func (e Engine) step(batch int) float64 {
	return e.TimePerToken.Seconds() * (1 + e.BatchSlowdown*float64(batch-1))
}

// engine is the queueing model of Engine: requests wait in one queue,
// first come first served, and start on the instance that frees a place
// first. An instance that goes (scale-in) takes no new request and
// finishes those it runs.
type engine struct {
	cfg     Engine
	batch   int
	tokens  [][]float64 // each second's requests' generated tokens
	prompts [][]float64 // and their prompts' tokens, if known
	carry   float64
	queue   []llmRequest
	insts   []*engineInstance
	n       int // instances named so far
}

type llmRequest struct {
	arrival        float64
	tokens, prompt int
}

type engineInstance struct {
	id       string
	t        float64 // simulated up to
	running  []*generating
	draining bool
}

type generating struct {
	llmRequest
	done int
}

func (e *engine) arrive(sec int, n float64) {
	if n <= 0 {
		return
	}
	list, prompts := []float64{1}, []float64(nil)
	if sec < len(e.tokens) && len(e.tokens[sec]) > 0 {
		list = e.tokens[sec]
	}
	if sec < len(e.prompts) && len(e.prompts[sec]) == len(list) {
		prompts = e.prompts[sec]
	}
	per := n / float64(len(list))
	var reqs []llmRequest
	for j, v := range list {
		e.carry += per
		copies := math.Floor(e.carry + 1e-9)
		e.carry -= copies
		r := llmRequest{tokens: max(1, int(math.Round(v)))}
		if prompts != nil {
			r.prompt = int(math.Round(prompts[j]))
		}
		for range int(copies) {
			reqs = append(reqs, r)
		}
	}
	for i, r := range reqs {
		r.arrival = float64(sec) + (float64(i)+0.5)/float64(len(reqs))
		e.queue = append(e.queue, r)
	}
}

// resize keeps ready instances taking requests: new ones start idle at
// from, and those beyond drain.
func (e *engine) resize(ready int, from float64) {
	active := 0
	for _, in := range e.insts {
		if !in.draining {
			active++
		}
	}
	for ; active < ready; active++ {
		e.n++
		e.insts = append(e.insts, &engineInstance{id: "i" + strconv.Itoa(e.n), t: from})
	}
	for i := len(e.insts) - 1; i >= 0 && active > ready; i-- {
		if !e.insts[i].draining {
			e.insts[i].draining = true
			active--
		}
	}
}

func (e *engine) serve(k, sec int, o *outcomes) (served, spent float64) {
	from, to := float64(sec), float64(sec+1)
	e.resize(k/e.batch, from)
	for {
		// The instance furthest behind steps next, so that the queue goes
		// to places in the order they free up.
		var in *engineInstance
		for _, c := range e.insts {
			if c.t < to && (in == nil || c.t < in.t) {
				in = c
			}
		}
		if in == nil {
			break
		}
		if len(in.running) == 0 {
			if in.draining {
				in.t = to
				continue
			}
			if len(e.queue) == 0 || e.queue[0].arrival >= to {
				in.t = to // idle to the second's end
				continue
			}
			in.t = max(in.t, e.queue[0].arrival)
		}
		prefill := 0
		for !in.draining && len(in.running) < e.batch && len(e.queue) > 0 && e.queue[0].arrival <= in.t {
			in.running = append(in.running, &generating{llmRequest: e.queue[0]})
			prefill += e.queue[0].prompt
			e.queue = e.queue[1:]
		}
		d := e.cfg.step(len(in.running)) + float64(prefill)*e.cfg.PrefillPerToken.Seconds()
		start := in.t
		in.t += d
		spent += float64(len(in.running)) * (min(in.t, to) - max(start, from))
		kept := in.running[:0]
		for _, g := range in.running {
			g.done++
			if g.done == 1 {
				o.answered(int(g.arrival), start-g.arrival, in.t-g.arrival, 1)
			}
			if g.done < g.tokens {
				kept = append(kept, g)
			} else {
				served++
			}
		}
		in.running = kept
	}
	alive := e.insts[:0]
	for _, in := range e.insts {
		if !in.draining || len(in.running) > 0 {
			alive = append(alive, in)
		}
	}
	e.insts = alive
	return served, spent
}

func (e *engine) expire(sec int, timeout time.Duration, o *outcomes) {
	for len(e.queue) > 0 && float64(sec+1)-e.queue[0].arrival >= timeout.Seconds() {
		o.drop(int(e.queue[0].arrival), 1)
		e.queue = e.queue[1:]
	}
}

func (e *engine) waiting() float64 { return float64(len(e.queue)) }

// scrapes are what each instance's /metrics would say now, in vLLM's
// names: the requests it runs, and its share of those waiting (the
// router would have queued them on the instances).
func (e *engine) scrapes() []modelmetrics.Scrape {
	var active []*engineInstance
	for _, in := range e.insts {
		if !in.draining {
			active = append(active, in)
		}
	}
	var out []modelmetrics.Scrape
	for i, in := range active {
		waiting := len(e.queue) / len(active)
		if i < len(e.queue)%len(active) {
			waiting++
		}
		out = append(out, modelmetrics.Scrape{Target: modelmetrics.Target{Endpoint: endpointName, Variant: variantName, Instance: in.id},
			Values: map[string]modelmetrics.Value{
				"vllm:num_requests_running": {Kind: modelmetrics.Count, V: float64(len(in.running))},
				"vllm:num_requests_waiting": {Kind: modelmetrics.Count, V: float64(waiting)},
			}})
	}
	return out
}
