package scaling

import (
	"slices"
	"testing"
	"time"
)

func TestCapacityForecast(t *testing.T) {
	// 60 invocations per instance per minute at most: an hour of 36,000
	// invocations needs 10 instances; one more needs 11.
	got := CapacityForecast([]float64{0, 36000, 36001, 3600 * 1.5}, 60, 60)
	if want := []int{0, 10, 11, 2}; !slices.Equal(got, want) {
		t.Fatalf("capacity %v, want %v", got, want)
	}
}

// TestForecastAt: an hour's capacity is in force SchedulingBufferTime
// before the hour, and nothing outside the forecast.
func TestForecastAt(t *testing.T) {
	start := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	s := Forecast{Start: start, Capacity: []int{2, 5, 3}}
	for _, tc := range []struct {
		now    time.Time
		buffer time.Duration
		want   int
		ok     bool
	}{
		{start, 0, 2, true},
		{start.Add(54 * time.Minute), 5 * time.Minute, 2, true},
		{start.Add(55 * time.Minute), 5 * time.Minute, 5, true}, // the next hour's, early
		{start.Add(119 * time.Minute), 0, 5, true},
		{start.Add(115 * time.Minute), 5 * time.Minute, 5, true}, // the hour keeps its own to its end
		{start.Add(-5 * time.Minute), 5 * time.Minute, 2, true},
		{start.Add(-6 * time.Minute), 5 * time.Minute, 0, false},
		{start.Add(3*time.Hour - 5*time.Minute), 10 * time.Minute, 3, true},
		{start.Add(3 * time.Hour), 0, 0, false},
	} {
		got, ok := s.At(tc.now, tc.buffer)
		if got != tc.want || ok != tc.ok {
			t.Errorf("At(%s, %v) = %d, %v; want %d, %v", tc.now.Format("15:04"), tc.buffer, got, ok, tc.want, tc.ok)
		}
	}
}

func TestPredictiveBounds(t *testing.T) {
	for _, tc := range []struct {
		name               string
		capacity, min, max int
		increase           bool
		buffer             int
		want               int
	}{
		{"within bounds", 5, 1, 10, false, 0, 5},
		{"below the minimum", 0, 1, 10, false, 0, 1},
		{"above the maximum, honoured", 50, 1, 40, false, 10, 40},
		{"above the maximum, exceeded by the buffer (AWS's example)", 50, 1, 40, true, 10, 50},
		{"the buffer is room above the forecast, not more capacity", 38, 1, 40, true, 10, 38},
	} {
		if got := PredictiveBounds(tc.capacity, tc.min, tc.max, tc.increase, tc.buffer); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
