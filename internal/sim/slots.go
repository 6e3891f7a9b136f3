package sim

import (
	"container/heap"
	"math"
	"time"
)

// slots is the queueing model of a trace whose requests each have their
// own service time: the fleet's slots (instances ready × concurrency) serve
// the requests one each, first come first served, as an M/G/k queue whose
// k changes as instances come and go. A long answer holds one slot for its
// whole time while the others go on serving, which the fluid queue (work
// spread over all slots) cannot tell.
//
// A second's requests arrive evenly over it. A listed request stands for
// its second's count over the requests listed (a scaled trace); fractions
// of a request carry over to the next one, so that the requests simulated
// follow the count, whole.
type slots struct {
	services [][]float64 // each second's requests' service times
	fallback float64     // service time of a second with no list
	queue    []request   // waiting, in arrival order
	busy     spanHeap    // in service, the first to end first
	carry    float64     // the fraction of a request not yet simulated
}

type request struct{ arrival, service float64 }

// span is a request's time in service.
type span struct{ start, end float64 }

func (s *slots) arrive(sec int, n float64) {
	if n <= 0 {
		return
	}
	list := []float64{s.fallback}
	if sec < len(s.services) && len(s.services[sec]) > 0 {
		list = s.services[sec]
	}
	per := n / float64(len(list))
	var times []float64
	for _, svc := range list {
		s.carry += per
		copies := math.Floor(s.carry + 1e-9)
		s.carry -= copies
		for range int(copies) {
			times = append(times, svc)
		}
	}
	for i, svc := range times {
		s.queue = append(s.queue, request{arrival: float64(sec) + (float64(i)+0.5)/float64(len(times)), service: svc})
	}
}

// serve runs second sec on k slots: the requests waiting start, in
// order, as slots free up within the second; it records each one's latency
// and returns the requests answered and the seconds of service given in
// the second.
func (s *slots) serve(k, sec int, o *outcomes) (served, spent float64) {
	from, to := float64(sec), float64(sec+1)
	end := func() float64 { // the next request in service to end, answered
		sp := heap.Pop(&s.busy).(span)
		served++
		spent += sp.end - max(sp.start, from)
		return sp.end
	}
	for k > 0 && len(s.queue) > 0 {
		r := s.queue[0]
		t := max(from, r.arrival)
		for s.busy.Len() > 0 && s.busy[0].end <= t {
			end()
		}
		for s.busy.Len() >= k && s.busy[0].end < to {
			t = max(t, end()) // waits for the next slot to free
		}
		if s.busy.Len() >= k {
			break // no slot this second
		}
		s.queue = s.queue[1:]
		wait := t - r.arrival
		o.answered(int(r.arrival), wait, wait+r.service, 1)
		heap.Push(&s.busy, span{t, t + r.service})
	}
	for s.busy.Len() > 0 && s.busy[0].end <= to {
		end()
	}
	for _, sp := range s.busy { // still in service at the second's end
		spent += to - max(sp.start, from)
	}
	return served, spent
}

// expire drops the requests that have waited beyond timeout by the end of
// second sec.
func (s *slots) expire(sec int, timeout time.Duration, o *outcomes) {
	for len(s.queue) > 0 && float64(sec+1)-s.queue[0].arrival >= timeout.Seconds() {
		o.drop(int(s.queue[0].arrival), 1)
		s.queue = s.queue[1:]
	}
}

func (s *slots) waiting() float64 { return float64(len(s.queue)) }

// spanHeap is a min-heap of requests in service by their end.
type spanHeap []span

func (h spanHeap) Len() int           { return len(h) }
func (h spanHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h spanHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *spanHeap) Push(x any)        { *h = append(*h, x.(span)) }
func (h *spanHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
