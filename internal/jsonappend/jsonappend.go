package jsonappend

import (
	"encoding/json"
	"math"
	"strconv"
	"time"
)

// String appends s as a JSON string, escaped as json.Marshal escapes it
// (including <, > and & as \u003c, \u003e, \u0026).
func String(b []byte, s string) []byte {
	n0 := len(b)
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain[c] {
			continue
		}
		var esc string
		switch c {
		case '"':
			esc = `\"`
		case '\\':
			esc = `\\`
		case '<':
			esc = `\u003c`
		case '>':
			esc = `\u003e`
		case '&':
			esc = `\u0026`
		default:
			// Control characters and UTF-8 (invalid sequences, U+2028):
			// rare here, and encoding/json's rules for them are many.
			q, _ := json.Marshal(s)
			return append(b[:n0], q...)
		}
		b = append(b, s[start:i]...)
		b = append(b, esc...)
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// plain are the bytes a JSON string holds as they are: printable ASCII
// but for the five String escapes.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// Float appends f as encoding/json does: the shortest decimal form, with an
// exponent below 1e-6 and from 1e21 on. f must be finite.
func Float(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9, as encoding/json cleans it up.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// Time appends t as time.Time's MarshalJSON does (RFC 3339 with
// nanoseconds).
func Time(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// Field appends a member's name and colon, after a comma unless it is the
// object's first.
func Field(b []byte, name string) []byte {
	if len(b) > 0 && b[len(b)-1] != '{' && b[len(b)-1] != '[' {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, name...)
	return append(b, '"', ':')
}
