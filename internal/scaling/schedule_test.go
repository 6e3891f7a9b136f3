package scaling

import (
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCronNext(t *testing.T) {
	utc := time.UTC
	ny := mustLoc(t, "America/New_York")
	from := time.Date(2026, 11, 23, 12, 0, 0, 0, utc) // a Monday
	tests := []struct {
		expr string
		loc  *time.Location
		want []time.Time
	}{
		{"cron(0 9 * * ? *)", utc, []time.Time{time.Date(2026, 11, 24, 9, 0, 0, 0, utc), time.Date(2026, 11, 25, 9, 0, 0, 0, utc)}},
		{"cron(0 18 ? * MON-FRI *)", utc, []time.Time{time.Date(2026, 11, 23, 18, 0, 0, 0, utc), time.Date(2026, 11, 24, 18, 0, 0, 0, utc)}},
		{"cron(0/15 * * * ? *)", utc, []time.Time{time.Date(2026, 11, 23, 12, 15, 0, 0, utc), time.Date(2026, 11, 23, 12, 30, 0, 0, utc)}},
		{"cron(30 6 * * 2 *)", utc, []time.Time{time.Date(2026, 11, 30, 6, 30, 0, 0, utc)}}, // 2 = Monday; `*` DOM is lenient
		{"cron(0 0 L * ? *)", utc, []time.Time{time.Date(2026, 11, 30, 0, 0, 0, 0, utc), time.Date(2026, 12, 31, 0, 0, 0, 0, utc)}},
		{"cron(0 0 ? * 6#3 *)", utc, []time.Time{time.Date(2026, 12, 18, 0, 0, 0, 0, utc)}}, // third Friday
		{"cron(0 0 ? * 2L *)", utc, []time.Time{time.Date(2026, 11, 30, 0, 0, 0, 0, utc)}},  // last Monday
		{"cron(0 0 1W * ? *)", utc, []time.Time{time.Date(2026, 12, 1, 0, 0, 0, 0, utc), time.Date(2027, 1, 1, 0, 0, 0, 0, utc), time.Date(2027, 2, 1, 0, 0, 0, 0, utc)}},
		{"cron(0 0 LW * ? *)", utc, []time.Time{time.Date(2026, 11, 30, 0, 0, 0, 0, utc), time.Date(2026, 12, 31, 0, 0, 0, 0, utc)}},
		{"cron(0 12 1 JAN ? 2027)", utc, []time.Time{time.Date(2027, 1, 1, 12, 0, 0, 0, utc)}},
		{"cron(0 0 12 * * ? *)", utc, []time.Time{time.Date(2026, 11, 24, 12, 0, 0, 0, utc)}}, // 7 fields, leading seconds
		{"cron(0 9 * * ? *)", ny, []time.Time{time.Date(2026, 11, 23, 14, 0, 0, 0, utc)}},     // 9:00 EST = 14:00 UTC
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.expr, tt.loc, from)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		at := from
		for _, want := range tt.want {
			got, ok := s.Next(at)
			if !ok || !got.Equal(want) {
				t.Fatalf("%s after %v = %v, want %v", tt.expr, at, got, want)
			}
			at = got
		}
	}
}

// Daylight saving: 9:00 New York is 14:00 UTC in winter, 13:00 in summer.
func TestCronDaylightSaving(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	s, _ := ParseSchedule("cron(0 9 * * ? *)", ny, time.Time{})
	got, _ := s.Next(time.Date(2027, 3, 13, 15, 0, 0, 0, time.UTC)) // after Saturday's run
	if want := time.Date(2027, 3, 14, 13, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("first run after the spring change = %v, want %v", got, want)
	}
	// 2:30 does not exist on 2027-03-14 in New York: it runs at 3:30 EDT.
	gap, _ := ParseSchedule("cron(30 2 * * ? *)", ny, time.Time{})
	got, _ = gap.Next(time.Date(2027, 3, 14, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2027, 3, 14, 7, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("in the gap = %v, want %v", got, want)
	}
	// 1:30 happens twice on 2026-11-01: it runs once.
	twice, _ := ParseSchedule("cron(30 1 * * ? *)", ny, time.Time{})
	first, _ := twice.Next(time.Date(2026, 11, 1, 4, 0, 0, 0, time.UTC))
	second, _ := twice.Next(first)
	if !first.Equal(time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC)) || !second.Equal(time.Date(2026, 11, 2, 6, 30, 0, 0, time.UTC)) {
		t.Fatalf("fall back: %v then %v", first, second)
	}
}

func TestRateAndAt(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := ParseSchedule("rate(5 hours)", nil, base)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Next(base.Add(time.Hour)); !got.Equal(base.Add(5 * time.Hour)) {
		t.Fatalf("rate: %v", got)
	}
	a, _ := ParseSchedule("at(2026-03-31T22:00:00)", mustLoc(t, "Europe/Paris"), base)
	if got, ok := a.Next(base); !ok || !got.Equal(time.Date(2026, 3, 31, 20, 0, 0, 0, time.UTC)) {
		t.Fatalf("at: %v", got)
	}
	if _, ok := a.Next(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)); ok {
		t.Fatal("at() fired twice")
	}
}

func TestScheduleErrors(t *testing.T) {
	for _, bad := range []string{
		"cron(0 9 * * *)", "cron(0 8 * * * *)", "cron(60 0 12 * * ? *)", "cron(60 9 * * ? *)", "cron(0 24 * * ? *)", "cron(0 9 ? * ? *)", "cron(0 9 1 * MON *)",
		"cron(0 9 32 * ? *)", "cron(0 9 * 13 ? *)", "cron(0 9 ? * 8 *)", "cron(0 9 * * ? 1969)", "cron(0/0 9 * * ? *)",
		"rate(0 minutes)", "rate(1 minutes)", "rate(5 minute)", "rate(5 weeks)", "at(2026-13-01T00:00:00)", "every 5 minutes",
	} {
		if _, err := ParseSchedule(bad, nil, time.Time{}); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
