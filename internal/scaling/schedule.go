package scaling

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed scheduled-action expression: at(), rate() or cron().
type Schedule interface {
	// Next returns the first fire time strictly after t, or false if none.
	Next(t time.Time) (time.Time, bool)
}

var (
	atRE   = regexp.MustCompile(`^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$`)
	rateRE = regexp.MustCompile(`^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$`)
	cronRE = regexp.MustCompile(`^cron\((.*)\)$`)
)

// ParseSchedule parses Application Auto Scaling's schedule expressions. at
// and cron are in loc (UTC when nil); rate counts from base.
func ParseSchedule(expr string, loc *time.Location, base time.Time) (Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	if m := atRE.FindStringSubmatch(expr); m != nil {
		t, err := time.ParseInLocation("2006-01-02T15:04:05", m[1], loc)
		if err != nil {
			return nil, fmt.Errorf("invalid at() time %q", m[1])
		}
		return atSchedule(t), nil
	}
	if m := rateRE.FindStringSubmatch(expr); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("the rate must be a positive integer")
		}
		if n == 1 && strings.HasSuffix(m[2], "s") || n > 1 && !strings.HasSuffix(m[2], "s") {
			return nil, fmt.Errorf("use %q with 1 and the plural with more", strings.TrimSuffix(m[2], "s"))
		}
		unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
		return rateSchedule{base: base, every: time.Duration(n) * unit}, nil
	}
	if m := cronRE.FindStringSubmatch(expr); m != nil {
		return parseCron(m[1], loc)
	}
	return nil, fmt.Errorf("the schedule must be at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(fields)")
}

type atSchedule time.Time

func (a atSchedule) Next(t time.Time) (time.Time, bool) {
	if time.Time(a).After(t) {
		return time.Time(a), true
	}
	return time.Time{}, false
}

type rateSchedule struct {
	base  time.Time
	every time.Duration
}

func (r rateSchedule) Next(t time.Time) (time.Time, bool) {
	if t.Before(r.base) {
		return r.base, true
	}
	k := t.Sub(r.base)/r.every + 1
	return r.base.Add(k * r.every), true
}

// cron is the EventBridge cron dialect AAS uses: Minutes Hours
// Day-of-month Month Day-of-week Year (an optional leading Seconds field is
// accepted and ignored: AAS documents second precision as not guaranteed).
type cron struct {
	loc            *time.Location
	minutes, hours []bool
	months         []bool
	years          []bool // index: year - 1970
	dom            domRule
	dow            dowRule
	domAny, dowAny bool
}

type domRule struct {
	days        []bool
	last        bool // L
	lastWeekday bool // LW
	nearest     int  // nW
}

type dowRule struct {
	days    []bool // index 1 = Sunday
	last    int    // nL: last weekday n of the month
	nth     int    // n#k: weekday n ...
	nthWeek int    // ... k-th of the month
}

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

func parseCron(s string, loc *time.Location) (*cron, error) {
	f := strings.Fields(s)
	if len(f) == 7 {
		// The optional leading seconds field: validated, then dropped
		// (AWS does not guarantee second precision either).
		if _, err := parseField(f[0], 0, 59, nil, "seconds"); err != nil {
			return nil, err
		}
		f = f[1:]
	}
	if len(f) != 6 {
		return nil, fmt.Errorf("cron() takes 6 fields (minutes hours day-of-month month day-of-week year), got %d", len(f))
	}
	c := &cron{loc: loc}
	var err error
	if c.minutes, err = parseField(f[0], 0, 59, nil, "minutes"); err != nil {
		return nil, err
	}
	if c.hours, err = parseField(f[1], 0, 23, nil, "hours"); err != nil {
		return nil, err
	}
	if c.months, err = parseField(f[3], 1, 12, monthNames, "month"); err != nil {
		return nil, err
	}
	if c.years, err = parseYears(f[5]); err != nil {
		return nil, err
	}
	dom, dow := f[2], f[4]
	switch {
	case dom == "?" && dow == "?":
		return nil, errors.New("day-of-month and day-of-week cannot both be ?")
	case dom == "*" && dow == "*":
		// EventBridge's rule, which AAS defers to: * may not be in both.
		return nil, errors.New("day-of-month and day-of-week cannot both be *; use ? in one of them")
	case dom == "*" && dow != "*" && dow != "?":
		dom = "?" // AAS accepts `30 6 * * 2 *`: the weekday decides
	case dow == "*" && dom != "*" && dom != "?":
		dow = "?"
	case dom != "?" && dom != "*" && dow != "?" && dow != "*":
		return nil, errors.New("day-of-month and day-of-week cannot both be given; use ? in one of them")
	}
	c.domAny = dom == "?" || dom == "*"
	c.dowAny = dow == "?" || dow == "*"
	if !c.domAny {
		if c.dom, err = parseDOM(dom); err != nil {
			return nil, err
		}
	}
	if !c.dowAny {
		if c.dow, err = parseDOW(dow); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func parseNum(s string, names map[string]int) (int, error) {
	if n, ok := names[strings.ToUpper(s)]; ok {
		return n, nil
	}
	return strconv.Atoi(s)
}

// parseField parses a list of values, ranges, * and steps within [lo, hi].
func parseField(s string, lo, hi int, names map[string]int, what string) ([]bool, error) {
	set := make([]bool, hi+1)
	for _, part := range strings.Split(s, ",") {
		expr, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("invalid step %q in the %s field", stepStr, what)
			}
			step = n
		}
		from, to := lo, hi
		switch {
		case expr == "*":
		case strings.Contains(expr, "-"):
			a, b, _ := strings.Cut(expr, "-")
			x, err1 := parseNum(a, names)
			y, err2 := parseNum(b, names)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("invalid range %q in the %s field", expr, what)
			}
			from, to = x, y
		default:
			x, err := parseNum(expr, names)
			if err != nil {
				return nil, fmt.Errorf("invalid value %q in the %s field", expr, what)
			}
			from = x
			if !hasStep {
				to = x
			}
		}
		if from < lo || to > hi || from > to {
			return nil, fmt.Errorf("%q is out of range %d-%d in the %s field", expr, lo, hi, what)
		}
		for v := from; v <= to; v += step {
			set[v] = true
		}
	}
	return set, nil
}

func parseYears(s string) ([]bool, error) {
	set, err := parseField(s, 1970, 2199, nil, "year")
	if err != nil {
		return nil, err
	}
	return set[1970:], nil
}

func parseDOM(s string) (domRule, error) {
	switch {
	case s == "L":
		return domRule{last: true}, nil
	case s == "LW":
		return domRule{lastWeekday: true}, nil
	case strings.HasSuffix(s, "W"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, "W"))
		if err != nil || n < 1 || n > 31 {
			return domRule{}, fmt.Errorf("invalid nearest-weekday %q in the day-of-month field", s)
		}
		return domRule{nearest: n}, nil
	}
	days, err := parseField(s, 1, 31, nil, "day-of-month")
	return domRule{days: days}, err
}

func parseDOW(s string) (dowRule, error) {
	if a, b, ok := strings.Cut(s, "#"); ok {
		d, err1 := parseNum(a, dayNames)
		k, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || d < 1 || d > 7 || k < 1 || k > 5 {
			return dowRule{}, fmt.Errorf("invalid %q in the day-of-week field", s)
		}
		return dowRule{nth: d, nthWeek: k}, nil
	}
	if strings.HasSuffix(s, "L") && len(s) > 1 {
		d, err := parseNum(strings.TrimSuffix(s, "L"), dayNames)
		if err != nil || d < 1 || d > 7 {
			return dowRule{}, fmt.Errorf("invalid %q in the day-of-week field", s)
		}
		return dowRule{last: d}, nil
	}
	if s == "L" {
		return dowRule{last: 7}, nil // the last Saturday
	}
	days, err := parseField(s, 1, 7, dayNames, "day-of-week")
	return dowRule{days: days}, err
}

func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func (c *cron) dayMatches(y int, m time.Month, d int) bool {
	wd := int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()) + 1 // 1 = Sunday
	n := daysIn(y, m)
	if !c.domAny {
		r := c.dom
		switch {
		case r.last:
			return d == n
		case r.lastWeekday:
			last := n
			for w := int(time.Date(y, m, last, 0, 0, 0, 0, time.UTC).Weekday()); w == 0 || w == 6; w = int(time.Date(y, m, last, 0, 0, 0, 0, time.UTC).Weekday()) {
				last--
			}
			return d == last
		case r.nearest > 0:
			target := min(r.nearest, n)
			w := time.Date(y, m, target, 0, 0, 0, 0, time.UTC).Weekday()
			switch {
			case w == time.Saturday && target == 1:
				target = 3
			case w == time.Saturday:
				target--
			case w == time.Sunday && target == n:
				target -= 2
			case w == time.Sunday:
				target++
			}
			return d == target
		default:
			return r.days[d]
		}
	}
	if !c.dowAny {
		r := c.dow
		switch {
		case r.nth > 0:
			return wd == r.nth && (d-1)/7+1 == r.nthWeek
		case r.last > 0:
			return wd == r.last && d+7 > n
		default:
			return r.days[wd]
		}
	}
	return true
}

// Next finds the first matching minute after t, day by day for up to five
// years. Local times are built with time.Date: a time that does not exist
// (the spring-forward gap) runs at the equivalent instant after the gap, and
// a time that exists twice (fall-back) runs once, the first time.
func (c *cron) Next(t time.Time) (time.Time, bool) {
	local := t.In(c.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, c.loc)
	for i := 0; i < 5*366; i++ {
		d := day.AddDate(0, 0, i)
		y, m, dd := d.Date()
		if y < 1970 || y > 2199 || !c.years[y-1970] || !c.months[int(m)] || !c.dayMatches(y, m, dd) {
			continue
		}
		for h := 0; h < 24; h++ {
			if !c.hours[h] {
				continue
			}
			for min := 0; min < 60; min++ {
				if !c.minutes[min] {
					continue
				}
				at := time.Date(y, m, dd, h, min, 0, 0, c.loc)
				if at.Hour() != h || at.Minute() != min {
					// The wall time falls in a spring-forward gap: take the
					// same wall time on the far side of the gap.
					_, before := at.Zone()
					_, after := at.Add(3 * time.Hour).Zone()
					at = at.Add(time.Duration(after-before) * time.Second)
				}
				if at.After(t) {
					return at, true
				}
			}
		}
	}
	return time.Time{}, false
}
