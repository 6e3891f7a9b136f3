package sim

import "math"

// outcomes are what became of the requests a run counts: those that
// arrived from second from on (the seconds before are the history that
// predictive policies forecast from, run but not counted). Their latencies
// go into all, and those of the requests that arrived in a ramp hour into
// ramps as well.
type outcomes struct {
	from       int
	ramp       []bool // by hour of the trace
	all, ramps map[int64]float64
	queued     float64 // answered after waiting a second or more
	dropped    float64 // waited beyond the timeout
}

func newOutcomes(from int, ramp []bool) *outcomes {
	return &outcomes{from: from, ramp: ramp, all: map[int64]float64{}, ramps: map[int64]float64{}}
}

func (o *outcomes) inRamp(arrival int) bool {
	h := arrival / 3600
	return h < len(o.ramp) && o.ramp[h]
}

// answered records n requests that arrived in second arrival and were
// answered after waiting wait seconds, in latency seconds in all.
func (o *outcomes) answered(arrival int, wait, latency, n float64) {
	if arrival < o.from {
		return
	}
	ms := int64(math.Round(latency * 1000))
	o.all[ms] += n
	if o.inRamp(arrival) {
		o.ramps[ms] += n
	}
	if wait >= 1 {
		o.queued += n
	}
}

// drop records n requests that arrived in second arrival and waited beyond
// the timeout.
func (o *outcomes) drop(arrival int, n float64) {
	if arrival < o.from {
		return
	}
	o.dropped += n
}

// rampHours marks each day's ramp hour of a per-second trace: the first
// hour after the quietest one before the day's peak whose load reaches
// halfway from that trough to the peak, where a daily pattern's rise is
// steepest and a reactive policy is furthest behind. Days are counted
// from the trace's first second; only whole days have one, and a day that
// peaks in its first hour has none.
func rampHours(t Trace) []bool {
	hours := make([]float64, len(t)/3600)
	for i := range hours {
		for _, v := range t[i*3600 : (i+1)*3600] {
			hours[i] += v
		}
	}
	ramp := make([]bool, len(hours))
	for d := 0; d+24 <= len(hours); d += 24 {
		day := hours[d : d+24]
		peak := 0
		for h, v := range day {
			if v > day[peak] {
				peak = h
			}
		}
		if peak == 0 {
			continue
		}
		trough := 0
		for h := range peak {
			if day[h] < day[trough] {
				trough = h
			}
		}
		half := (day[trough] + day[peak]) / 2
		for h := trough + 1; h <= peak; h++ {
			if day[h] >= half {
				ramp[d+h] = true
				break
			}
		}
	}
	return ramp
}
