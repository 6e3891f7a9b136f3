package scaling

import (
	"math"
	"time"
)

// A predictive scaling policy turns a load forecast into capacity, hour by
// hour, and schedules it ahead of the hour (Application Auto Scaling's
// PredictiveScaling policy type).

// CapacityForecast is the capacity each forecast hour needs: the load of
// the hour over what one unit of capacity takes at the policy's target
// (TargetValue in the scaling metric's units, perUnit the load one unit
// of capacity carries per unit of the scaling metric: 60 when the load is
// a sum per hour and the scaling metric a sum per minute per instance),
// rounded up.
func CapacityForecast(load []float64, target, perUnit float64) []int {
	out := make([]int, len(load))
	for i, l := range load {
		// A hair below a whole number is that number (floating-point
		// noise must not add an instance).
		out[i] = int(math.Ceil(l/(target*perUnit) - 1e-9))
	}
	return out
}

// Forecast is a capacity forecast: the capacity of each hour from Start.
type Forecast struct {
	Start    time.Time
	Capacity []int
}

// At is the capacity the forecast wants in force at now: the higher of the
// hour that holds now and the hour that holds now+buffer (SchedulingBufferTime
// starts an hour's capacity that much early, and an hour keeps its own to
// its end); false when the forecast covers neither.
func (s Forecast) At(now time.Time, buffer time.Duration) (int, bool) {
	c, ok := 0, false
	for _, at := range []time.Time{now, now.Add(buffer)} {
		if k := int(math.Floor(at.Sub(s.Start).Hours())); k >= 0 && k < len(s.Capacity) {
			c, ok = max(c, s.Capacity[k]), true
		}
	}
	return c, ok
}

// PredictiveBounds is a predictive policy's capacity within a target's
// bounds: at least min; at most max, or, when the policy may exceed it
// (MaxCapacityBreachBehavior IncreaseMaxCapacity), the forecast plus
// bufferPct percent, rounded up (AWS's example: a forecast of 50 with a
// 10 % buffer allows 55).
func PredictiveBounds(capacity, min, max int, increaseMax bool, bufferPct int) int {
	limit := max
	if increaseMax && capacity > max {
		limit = int(math.Ceil(float64(capacity) * (1 + float64(bufferPct)/100)))
	}
	return Clamp(0, capacity, min, limit).Desired
}
