package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ebbscale/ebb/internal/sim"
)

func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var (
		policies                       stringList
		trace, timeColumn, countColumn string
		plotPath                       string
		scale                          = 1.0
		search, asJSON                 bool
		m                              = sim.Model{ServiceTime: 100 * time.Millisecond, Concurrency: 1, Startup: 5 * time.Minute, SLO: time.Second, Timeout: time.Minute}
		start                          string
	)
	fs := newFlags("simulate", "Replay a request trace through ebb's own alarms and Application Auto Scaling on a virtual clock, against a\n"+
		"queueing model of instances, once per policy file, and compare: instance-hours, utilization, latency, SLO\n"+
		"attainment, dropped requests and every scaling activity. A policy file is JSON in the AWS shapes:\n"+
		`{"MinCapacity": 1, "MaxCapacity": 10, "ScalingPolicies": [<put_scaling_policy arguments>], "ScheduledActions": [<put_scheduled_action arguments>]}`, stderr)
	fs.StringVar(&trace, "trace", "", "CSV trace: per-second counts or one row per request (required)")
	fs.Var(&policies, "policy", "policy file (repeatable; the first is the baseline of --search)")
	fs.DurationVar(&m.ServiceTime, "service-time", m.ServiceTime, "how long an instance takes per request")
	dist := fs.String("service-time-dist", "fixed", "how service times spread around their mean: fixed, exponential, or lognormal:SIGMA (e.g. lognormal:0.5)")
	fs.IntVar(&m.Concurrency, "concurrency", m.Concurrency, "requests an instance serves at once")
	fs.IntVar(&m.InitialInstances, "initial-instance-count", 0, "instances ready when the trace starts, as in the endpoint config (0: the policy's MinCapacity); a trace cut from running traffic starts on the fleet it had")
	fs.DurationVar(&m.Startup, "startup", m.Startup, "how long a new instance takes to become ready")
	fs.DurationVar(&m.SLO, "slo", m.SLO, "a request answered within this attains the SLO")
	fs.BoolVar(&search, "search", false, "also try a grid of target-tracking policies and report the cheapest that keeps the baseline's SLO attainment")
	fs.BoolVar(&asJSON, "json", false, `print {"policies": [...]} (and "search") as JSON`)
	fs.StringVar(&timeColumn, "time-column", "TIMESTAMP", "the trace's per-request time column")
	to := sim.TraceOptions{ServicePerUnit: time.Millisecond}
	fs.StringVar(&to.ServiceColumn, "service-time-column", "", "a per-request trace's column that gives each request's service time (instead of --service-time): --service-time-base + value x --service-time-per-unit")
	fs.DurationVar(&to.ServicePerUnit, "service-time-per-unit", to.ServicePerUnit, "with --service-time-column: the service time per unit of the column (1ms: the column is in milliseconds)")
	fs.DurationVar(&to.ServiceBase, "service-time-base", 0, "with --service-time-column: service time every request takes besides")
	fs.StringVar(&countColumn, "count-column", "requests", "the trace's per-second count column")
	fs.Float64Var(&scale, "scale", scale, "multiply the trace's load by this")
	fs.StringVar(&start, "start", "", "the virtual time of the trace's first second, RFC 3339 (default 2026-01-05T00:00:00Z, a Monday)")
	llm := fs.Bool("llm", false, "model an LLM engine (ebb example-model --llm's): each request generates --tokens-column tokens, --concurrency at once per instance, a step of --time-per-token slower by --batch-slowdown per request in the batch; latency is the time to first token, and the instances' vLLM metrics (vllm:num_requests_waiting, ...) are published in ebb/ModelServer for a queue-depth policy")
	tokensColumn := fs.String("tokens-column", "GeneratedTokens", "with --llm: the per-request trace's column of generated tokens")
	promptColumn := fs.String("prompt-column", "ContextTokens", "with --llm: the per-request trace's column of prompt tokens, if it has one (none: no prefill)")
	engine := sim.Engine{TimePerToken: 20 * time.Millisecond, BatchSlowdown: 0.05, PrefillPerToken: 100 * time.Microsecond}
	fs.DurationVar(&engine.TimePerToken, "time-per-token", engine.TimePerToken, "with --llm: a decoding step's time with one request in the batch")
	fs.Float64Var(&engine.BatchSlowdown, "batch-slowdown", engine.BatchSlowdown, "with --llm: how much longer a step takes per further request in the batch, as a share of --time-per-token")
	fs.DurationVar(&engine.PrefillPerToken, "prefill-per-token", engine.PrefillPerToken, "with --llm: the time a step that admits requests takes more per token of their prompts (before their first token)")
	history := fs.String("history", "auto", "run the trace's first DURATION without counting it: the history a predictive policy forecasts from (auto: 24h when a policy is predictive, else 0)")
	fs.StringVar(&plotPath, "plot", "simulate", "write load and capacity over time to this path with .png, and a report with it to .html (empty: none)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if trace == "" || len(policies) == 0 {
		return usageError{errors.New("--trace and at least one --policy are required")}
	}
	if m.Concurrency < 1 || m.ServiceTime <= 0 || m.Startup < 0 || m.SLO <= 0 || scale <= 0 {
		return usageError{errors.New("--concurrency, --service-time, --slo and --scale must be positive, --startup not negative")}
	}
	switch d := *dist; {
	case d == "fixed":
	case d == "exponential":
		m.Spread = sim.Exponential
	case strings.HasPrefix(d, "lognormal:"):
		sigma, err := strconv.ParseFloat(strings.TrimPrefix(d, "lognormal:"), 64)
		if err != nil || sigma <= 0 || sigma > 3 {
			return usageError{fmt.Errorf("--service-time-dist %s: SIGMA must be a number in (0, 3]", d)}
		}
		m.Spread = sim.LogNormal(sigma)
	default:
		return usageError{fmt.Errorf("--service-time-dist %q: want fixed, exponential or lognormal:SIGMA", d)}
	}
	// Service times come from the flags, from the trace's column, or from
	// the engine's tokens: a flag that would go unused is refused.
	var unused []string
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) {
		set[f.Name] = true
		switch withColumn := to.ServiceColumn != ""; {
		case *llm && (strings.HasPrefix(f.Name, "service-time")):
			unused = append(unused, "--"+f.Name)
		case !*llm && (f.Name == "tokens-column" || f.Name == "prompt-column" || f.Name == "time-per-token" || f.Name == "batch-slowdown" || f.Name == "prefill-per-token"):
			unused = append(unused, "--"+f.Name)
		case withColumn && (f.Name == "service-time" || f.Name == "service-time-dist"),
			!withColumn && (f.Name == "service-time-base" || f.Name == "service-time-per-unit"):
			unused = append(unused, "--"+f.Name)
		}
	})
	switch {
	case len(unused) > 0 && *llm:
		return usageError{fmt.Errorf("%s: with --llm each request generates its tokens (--tokens-column) at --time-per-token", strings.Join(unused, ", "))}
	case len(unused) > 0 && slices.ContainsFunc(unused, func(f string) bool { return !strings.HasPrefix(f, "--service-time") }):
		return usageError{fmt.Errorf("%s: only with --llm", strings.Join(unused, ", "))}
	case len(unused) > 0:
		return usageError{fmt.Errorf("%s: with --service-time-column each request takes its own service time (--service-time-base + value x --service-time-per-unit); without it, --service-time (and --service-time-dist) for all", strings.Join(unused, ", "))}
	}
	if *llm {
		if engine.TimePerToken <= 0 || engine.BatchSlowdown < 0 || engine.PrefillPerToken < 0 {
			return usageError{errors.New("--time-per-token must be positive, --batch-slowdown and --prefill-per-token not negative")}
		}
		// The column's values are tokens: read as seconds of one each.
		to.ServiceColumn, to.ServiceBase, to.ServicePerUnit = *tokensColumn, 0, time.Second
		// The prompts, where the trace has them (a flag set names a
		// column that must be there).
		to.PromptColumn = *promptColumn
		if !set["prompt-column"] && !hasColumn(trace, *promptColumn) {
			to.PromptColumn = ""
		}
		m.Engine = &engine
	}
	if start != "" {
		t, err := time.Parse(time.RFC3339, start)
		if err != nil {
			return usageError{fmt.Errorf("--start: %w", err)}
		}
		m.Start = t
	}
	to.TimeColumn, to.CountColumn = timeColumn, countColumn
	tr, cols, err := sim.LoadTrace(trace, to)
	if err != nil {
		return err
	}
	tr, m.Services, m.Prompts = tr.Scale(scale), cols.Services, cols.Prompts // each listed request stands for --scale of them
	var ps []sim.Policy
	for _, path := range policies {
		b, err := os.ReadFile(path)
		if err != nil {
			return usageError{fmt.Errorf("--policy: %w", err)}
		}
		var p sim.Policy
		if err := json.Unmarshal(b, &p); err != nil {
			return usageError{fmt.Errorf("--policy %s: %w", path, err)}
		}
		p.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		ps = append(ps, p)
	}
	switch {
	case *history != "auto":
		d, err := time.ParseDuration(*history)
		if err != nil || d < 0 {
			return usageError{fmt.Errorf("--history %s: want a duration such as 24h, or auto", *history)}
		}
		m.History = d
	case slices.ContainsFunc(ps, sim.Policy.Predictive):
		m.History = 24 * time.Hour
	}
	fmt.Fprintf(stderr, "ebb simulate: %s, %.1f hours, %d policies\n", trace, float64(len(tr))/3600, len(ps))
	if m.History > 0 {
		fmt.Fprintf(stderr, "  the first %v is history: run, not counted (--history)\n", m.History)
	}
	var reports []sim.Report
	for _, p := range ps {
		began := time.Now()
		r, err := sim.Run(ctx, tr, p, m)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "  %s: simulated in %v\n", p.Name, time.Since(began).Round(time.Millisecond))
		reports = append(reports, r)
	}
	var found *sim.Found
	if search {
		n, tty := 0, isTerminal(stderr)
		f, err := sim.Search(ctx, tr, ps[0], m, func(sim.Report) {
			n++
			switch {
			case tty:
				fmt.Fprintf(stderr, "\r  search: %d policies tried (of up to %d)", n, sim.Candidates)
			case n%12 == 0:
				fmt.Fprintf(stderr, "  search: %d policies tried (of up to %d)\n", n, sim.Candidates)
			}
		})
		if tty {
			fmt.Fprintln(stderr)
		}
		if err != nil {
			return err
		}
		found = &f
		if f.Best.Name != f.Baseline.Name {
			reports = append(reports, f.Best)
		}
	}
	if plotPath != "" {
		png, svg, err := sim.Plot(reports)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("Service time %v, %d at once per instance, startup %v, SLO %v, load ×%g.", m.ServiceTime, m.Concurrency, m.Startup, m.SLO, scale)
		if e := m.Engine; e != nil {
			desc = fmt.Sprintf("An LLM engine: %v a token (+%g%% per request in the batch), prefill %v a prompt token, %d at once per instance, startup %v, SLO %v on the time to first token, load ×%g.",
				e.TimePerToken, 100*e.BatchSlowdown, e.PrefillPerToken, m.Concurrency, m.Startup, m.SLO, scale)
		}
		page, err := sim.HTML(filepath.Base(trace), desc, reports, svg)
		if err != nil {
			return err
		}
		if err := os.WriteFile(plotPath+".png", png, 0o644); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
		if err := os.WriteFile(plotPath+".html", page, 0o644); err != nil {
			return fmt.Errorf("--plot: %w", err)
		}
		fmt.Fprintf(stderr, "ebb simulate: wrote %s.png and %s.html\n", plotPath, plotPath)
	}
	if asJSON {
		out := map[string]any{"policies": reports}
		if found != nil {
			best := map[string]any{}
			b, _ := json.Marshal(found.Best)
			json.Unmarshal(b, &best)
			best["policy"] = found.Policy
			out["search"] = map[string]any{"baseline": found.Baseline.Name, "best": best}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tinstance-hours\tutilization\tp50 ms\tp99 ms\tramp p99 ms\tSLO attainment\tqueued\tdropped\tmax instances\tactivities\t")
	for _, r := range reports {
		ramp := "-"
		if r.RampP99ms > 0 {
			ramp = fmt.Sprintf("%.0f", r.RampP99ms)
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.1f%%\t%.0f\t%.0f\t%s\t%.3f%%\t%.0f\t%.0f\t%d\t%d\t\n", r.Name, r.InstanceHours, 100*r.MeanUtilization, r.P50ms, r.P99ms,
			ramp, 100*r.SLOAttainment, r.Queued, r.Dropped, r.MaxInstances, len(r.Activities))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range reports {
		fmt.Fprintf(stdout, "\n%s: %d scaling activities\n", r.Name, len(r.Activities))
		for i, a := range r.Activities {
			if i == 20 {
				fmt.Fprintf(stdout, "  ... %d more (--json lists them all)\n", len(r.Activities)-20)
				break
			}
			fmt.Fprintf(stdout, "  %s  %s  %s\n", a.Time.Format("2006-01-02 15:04:05"), a.Description, a.Cause)
		}
	}
	if found != nil {
		saved := 1 - found.Best.InstanceHours/found.Baseline.InstanceHours
		fmt.Fprintf(stdout, "\nsearch: %s keeps %s's SLO attainment (%.3f%% vs %.3f%%) with %.0f%% fewer instance-hours\n",
			found.Best.Name, found.Baseline.Name, 100*found.Best.SLOAttainment, 100*found.Baseline.SLOAttainment, 100*saved)
		b, _ := json.MarshalIndent(found.Policy, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	}
	return nil
}

// hasColumn reports whether a CSV file's header names the column.
func hasColumn(path, column string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	header, err := csv.NewReader(f).Read()
	return err == nil && slices.ContainsFunc(header, func(h string) bool { return strings.EqualFold(strings.TrimSpace(h), column) })
}
