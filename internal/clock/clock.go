package clock

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Clock tells the time and schedules work on it.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker that fires every d of this clock's time.
	NewTicker(d time.Duration) Ticker
	// AfterFunc calls f in its own goroutine after d of this clock's time.
	AfterFunc(d time.Duration, f func()) Timer
}

// Ticker is the part of time.Ticker that loops use.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Timer is the part of time.Timer that loops use.
type Timer interface {
	Stop() bool
}

// Real is the wall clock.
type Real struct{}

func (Real) Now() time.Time { return time.Now() }

func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

type realTicker struct{ t *time.Ticker }

func (t realTicker) C() <-chan time.Time { return t.t.C }
func (t realTicker) Stop()               { t.t.Stop() }

// Scaled runs Factor times faster than the wall clock, starting from the wall
// clock's time at Epoch. With Factor 60 a one-minute alarm period passes in
// one real second; timestamps stay monotonic and plausible.
type Scaled struct {
	Factor float64
	Epoch  time.Time // wall time at which scaled time equals wall time
}

// NewScaled returns a clock that runs factor times faster than real time from now on.
func NewScaled(factor float64) *Scaled {
	return &Scaled{Factor: factor, Epoch: time.Now()}
}

func (s *Scaled) Now() time.Time {
	real := time.Since(s.Epoch)
	return s.Epoch.Add(time.Duration(float64(real) * s.Factor))
}

func (s *Scaled) real(d time.Duration) time.Duration {
	r := time.Duration(float64(d) / s.Factor)
	if r <= 0 {
		r = 1
	}
	return r
}

func (s *Scaled) NewTicker(d time.Duration) Ticker {
	t := &scaledTicker{ch: make(chan time.Time, 1), t: time.NewTicker(s.real(d)), stop: make(chan struct{})}
	go func() {
		for {
			select {
			case <-t.t.C:
				select {
				case t.ch <- s.Now():
				default:
				}
			case <-t.stop:
				return
			}
		}
	}()
	return t
}

func (s *Scaled) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(s.real(d), f) }

type scaledTicker struct {
	ch   chan time.Time
	t    *time.Ticker
	stop chan struct{}
	once sync.Once
}

func (t *scaledTicker) C() <-chan time.Time { return t.ch }
func (t *scaledTicker) Stop() {
	t.once.Do(func() { t.t.Stop(); close(t.stop) })
}

// Fake is a clock for tests: time stands still until Advance moves it, and
// tickers and timers due by then fire in order of their deadlines.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	waiters []*fakeWaiter
}

type fakeWaiter struct {
	at     time.Time
	period time.Duration // 0 for a one-shot timer
	ch     chan time.Time
	f      func()
	done   bool
}

// NewFake returns a fake clock that reads t.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *Fake) NewTicker(d time.Duration) Ticker {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{at: f.now.Add(d), period: d, ch: make(chan time.Time, 1)}
	f.waiters = append(f.waiters, w)
	return &fakeTicker{f: f, w: w}
}

func (f *Fake) AfterFunc(d time.Duration, fn func()) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := &fakeWaiter{at: f.now.Add(d), f: fn}
	f.waiters = append(f.waiters, w)
	return &fakeTimer{f: f, w: w}
}

// Advance moves the clock forward by d, firing everything that falls due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	for {
		sort.SliceStable(f.waiters, func(i, j int) bool { return f.waiters[i].at.Before(f.waiters[j].at) })
		var next *fakeWaiter
		for _, w := range f.waiters {
			if !w.done && !w.at.After(end) {
				next = w
				break
			}
		}
		if next == nil {
			break
		}
		f.now = next.at
		if next.period > 0 {
			select {
			case next.ch <- f.now:
			default:
			}
			next.at = next.at.Add(next.period)
		} else {
			next.done = true
			go next.f()
		}
	}
	f.now = end
	f.compact()
	f.mu.Unlock()
}

func (f *Fake) compact() {
	live := f.waiters[:0]
	for _, w := range f.waiters {
		if !w.done {
			live = append(live, w)
		}
	}
	f.waiters = live
}

func (f *Fake) stop(w *fakeWaiter) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	was := !w.done
	w.done = true
	return was
}

type fakeTicker struct {
	f *Fake
	w *fakeWaiter
}

func (t *fakeTicker) C() <-chan time.Time { return t.w.ch }
func (t *fakeTicker) Stop()               { t.f.stop(t.w) }

type fakeTimer struct {
	f *Fake
	w *fakeWaiter
}

func (t *fakeTimer) Stop() bool { return t.f.stop(t.w) }

// Interface guards.
var (
	_ Clock = Real{}
	_ Clock = (*Scaled)(nil)
	_ Clock = (*Fake)(nil)
)

// Every calls fn with the time of each tick of d on c until ctx ends: the
// loop of the services that only act on a period.
func Every(ctx context.Context, c Clock, d time.Duration, fn func(now time.Time)) {
	t := c.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C():
			fn(now)
		}
	}
}
