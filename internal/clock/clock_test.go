package clock

import (
	"testing"
	"time"
)

func TestFakeTickerAndTimer(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := NewFake(start)
	tk := f.NewTicker(10 * time.Second)
	fired := make(chan struct{})
	f.AfterFunc(25*time.Second, func() { close(fired) })

	f.Advance(9 * time.Second)
	select {
	case <-tk.C():
		t.Fatal("ticker fired early")
	default:
	}
	f.Advance(1 * time.Second)
	if got := <-tk.C(); !got.Equal(start.Add(10 * time.Second)) {
		t.Fatalf("tick at %v, want %v", got, start.Add(10*time.Second))
	}
	f.Advance(20 * time.Second)
	<-fired
	if got, want := f.Now(), start.Add(30*time.Second); !got.Equal(want) {
		t.Fatalf("Now()=%v, want %v", got, want)
	}
	tk.Stop()
}

func TestScaledRunsFaster(t *testing.T) {
	s := &Scaled{Factor: 1000, Epoch: time.Now().Add(-time.Millisecond)}
	if d := s.Now().Sub(s.Epoch); d < time.Second {
		t.Fatalf("1 ms of real time at 1000x gave %v of clock time, want >= 1s", d)
	}
}
