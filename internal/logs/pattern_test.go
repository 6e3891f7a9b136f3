package logs

import (
	"strings"
	"testing"
)

func TestPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern string
		match   []string
		miss    []string
	}{
		{"", []string{"anything", ""}, nil},
		{"ERROR", []string{"[ERROR] boom", "ERRORS"}, []string{"error", "warn"}},
		{"ERROR Exception", []string{"ERROR: Exception in thread"}, []string{"ERROR only", "Exception only"}},
		{"?ERROR ?WARN", []string{"ERROR x", "WARN y"}, []string{"INFO z"}},
		{"ERROR -Exiting", []string{"ERROR: retry"}, []string{"ERROR: Exiting"}},
		{`"status 500" ?GET ?POST`, []string{"GET /x status 500"}, []string{"GET /x status 200", "PUT /x status 500"}},
		{`"say \"hi\""`, []string{`they say "hi" here`}, []string{"say hi"}},
	} {
		p, err := ParsePattern(tc.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tc.pattern, err)
		}
		for _, m := range tc.match {
			if !p.Match(m) {
				t.Errorf("%q does not match %q", tc.pattern, m)
			}
		}
		for _, m := range tc.miss {
			if p.Match(m) {
				t.Errorf("%q matches %q", tc.pattern, m)
			}
		}
	}
}

func TestPatternRefusesWhatItCannotMatch(t *testing.T) {
	for pattern, want := range map[string]string{
		`{ $.level = "ERROR" }`:  "JSON filter patterns",
		`[ip, user, status=500]`: "space-delimited",
		`%ERR[0-9]+%`:            "regular expression",
		`"unclosed`:              "no closing quote",
		`ERROR -`:                "must be followed by a term",
	} {
		if _, err := ParsePattern(pattern); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePattern(%q) = %v, want an error saying %q", pattern, err, want)
		}
	}
}

// FuzzParsePattern: any pattern parses or is refused, and a parsed one
// matches without panicking.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"", "ERROR", `?a -b "c d"`, `"x\"y"`, "{", "-"} {
		f.Add(s, "message ERROR a c d")
	}
	f.Fuzz(func(t *testing.T, pattern, msg string) {
		p, err := ParsePattern(pattern)
		if err == nil {
			p.Match(msg)
		}
	})
}
