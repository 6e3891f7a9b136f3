package forecast

import (
	"errors"
	"math"
	"testing"
	"time"
)

// shape is a day's load: low at night, a peak in the afternoon.
func shape(h int) float64 { return 100 + 80*math.Sin(2*math.Pi*float64(h-9)/24) }

// series is days of hourly load from start, each hour's value from f.
func series(start time.Time, days int, f func(t time.Time) float64) []float64 {
	out := make([]float64, days*24)
	for i := range out {
		out[i] = f(start.Add(time.Duration(i) * time.Hour))
	}
	return out
}

// TestForecast: the patterns a forecast must follow, one case each; a
// forecast is good when every hour of the next two days is within the
// tolerance of what the pattern gives.
func TestForecast(t *testing.T) {
	monday := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	daily := func(t time.Time) float64 { return shape(t.Hour()) }
	weekly := func(t time.Time) float64 {
		if d := t.Weekday(); d == time.Saturday || d == time.Sunday {
			return 0.3 * shape(t.Hour())
		}
		return shape(t.Hour())
	}
	for _, tc := range []struct {
		name      string
		start     time.Time
		history   []float64
		want      func(t time.Time) float64
		tolerance float64 // of each hour's wanted value
	}{
		{"a flat load", monday, series(monday, 1, func(time.Time) float64 { return 10 }), func(time.Time) float64 { return 10 }, 0.001},
		{"one day: its daily pattern", monday, series(monday, 1, daily), daily, 0.001},
		{"three days of a daily pattern", monday, series(monday, 3, daily), daily, 0.001},
		{"two weeks with quiet weekends: the weekend is forecast quiet", monday, series(monday, 14, weekly), weekly, 0.05},
		{"ten days from a Wednesday, quiet weekends", monday.AddDate(0, 0, 2), series(monday.AddDate(0, 0, 2), 10, weekly), weekly, 0.1},
		{"the level rose by half on the last day: the forecast follows", monday,
			series(monday, 5, func(t time.Time) float64 {
				if t.Sub(monday) >= 4*24*time.Hour {
					return 1.5 * shape(t.Hour())
				}
				return shape(t.Hour())
			}),
			func(t time.Time) float64 { return 1.5 * shape(t.Hour()) }, 0.1},
		{"two weeks with quiet weekends, the level up by a third on the last day", monday,
			series(monday, 14, func(t time.Time) float64 {
				if t.Sub(monday) >= 13*24*time.Hour {
					return 1.33 * weekly(t)
				}
				return weekly(t)
			}),
			func(t time.Time) float64 { return 1.33 * weekly(t) }, 0.15},
		{"hours without data are skipped", monday, func() []float64 {
			h := series(monday, 3, daily)
			h[30], h[31] = math.NaN(), math.NaN()
			return h
		}(), daily, 0.01},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Forecast(tc.start, tc.history, 48)
			if err != nil {
				t.Fatal(err)
			}
			end := tc.start.Add(time.Duration(len(tc.history)) * time.Hour)
			for i, v := range got {
				at := end.Add(time.Duration(i) * time.Hour)
				if want := tc.want(at); math.Abs(v-want) > tc.tolerance*math.Max(want, 1) {
					t.Fatalf("%s (%s): %.1f, want %.1f ± %.0f%%", at.Format("Mon 15:04"), at.Weekday(), v, want, 100*tc.tolerance)
				}
			}
		})
	}
}

func TestForecastNeedsADay(t *testing.T) {
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	h := series(start, 2, func(time.Time) float64 { return 1 })
	for i := 0; i < 30; i++ {
		h[i] = math.NaN() // 18 hours of data in two days
	}
	if _, err := Forecast(start, h, 48); !errors.Is(err, ErrTooShort) {
		t.Fatalf("err = %v, want ErrTooShort", err)
	}
}

// TestForecastUsesTwoWeeks: history beyond 14 days is not used (a pattern
// that ended three weeks ago does not come back).
func TestForecastUsesTwoWeeks(t *testing.T) {
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	h := series(start, 30, func(t time.Time) float64 {
		if t.Before(start.AddDate(0, 0, 10)) {
			return 1000
		}
		return 10
	})
	got, err := Forecast(start, h, 48)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range got {
		if math.Abs(v-10) > 0.01 {
			t.Fatalf("forecast %v, want 10", v)
		}
	}
}

// TestForecastFollowsTheLastHours: a day that starts at half again the
// load (a Monday after a quiet weekend) raises the forecast of its next
// hours from its first three, before a whole day has seen the change;
// the same hours at the usual load leave the forecast as it was.
func TestForecastFollowsTheLastHours(t *testing.T) {
	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	h := series(start, 4, func(t time.Time) float64 { return shape(t.Hour()) })
	h = append(h, shape(0), shape(1), shape(2))
	usual, err := Forecast(start, h, 6)
	if err != nil {
		t.Fatal(err)
	}
	h[len(h)-3], h[len(h)-2], h[len(h)-1] = 1.5*shape(0), 1.5*shape(1), 1.5*shape(2)
	busy, err := Forecast(start, h, 6)
	if err != nil {
		t.Fatal(err)
	}
	for i := range usual {
		want := shape(3 + i)
		if math.Abs(usual[i]-want) > 0.001*want {
			t.Fatalf("hour %d: %.1f after usual hours, want %.1f", 3+i, usual[i], want)
		}
		if rise := busy[i] / want; rise < 1.2 || rise > 1.5 {
			t.Fatalf("hour %d: %.1f after busy hours, %.2f times the usual", 3+i, busy[i], rise)
		}
	}
}
