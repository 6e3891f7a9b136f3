package logs

import (
	"fmt"
	"strings"
)

// Pattern is a CloudWatch Logs filter pattern for unstructured events:
// terms separated by spaces, each matched case-sensitively as a substring
// of the message. A message matches when it contains every plain term,
// at least one of the terms written ?term (where there are any), and none
// of the terms written -term. A term in double quotes is a phrase and may
// hold spaces and any other character ("\"" is a quote inside one).
//
// The empty pattern matches every event. JSON patterns ({ $.x = 1 }),
// space-delimited patterns ([ip, user, ...]) and regular expressions
// (%...%) are not supported: ParsePattern refuses them, rather than
// matching them as text.
type Pattern struct {
	all, any, none []string
}

// ParsePattern reads a filter pattern.
func ParsePattern(s string) (Pattern, error) {
	var p Pattern
	s = strings.TrimSpace(s)
	if s == "" {
		return p, nil
	}
	switch s[0] {
	case '{':
		return p, fmt.Errorf("JSON filter patterns ({ $.field ... }) are not supported by ebb; use terms and quoted phrases")
	case '[':
		return p, fmt.Errorf("space-delimited filter patterns ([field, ...]) are not supported by ebb; use terms and quoted phrases")
	case '%':
		return p, fmt.Errorf("regular expression filter patterns (%%...%%) are not supported by ebb; use terms and quoted phrases")
	}
	for s != "" {
		list := &p.all
		switch s[0] {
		case '?':
			list, s = &p.any, s[1:]
		case '-':
			list, s = &p.none, s[1:]
		}
		var term string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i == len(s) {
				return p, fmt.Errorf("the quoted phrase %s has no closing quote", s)
			}
			term, s = b.String(), s[i+1:]
		} else {
			end := strings.IndexAny(s, " \t")
			if end < 0 {
				end = len(s)
			}
			term, s = s[:end], s[end:]
		}
		if term == "" {
			return p, fmt.Errorf("a ? or - in a filter pattern must be followed by a term")
		}
		*list = append(*list, term)
		s = strings.TrimLeft(s, " \t")
	}
	return p, nil
}

// Match says whether a message matches the pattern.
func (p Pattern) Match(msg string) bool {
	for _, t := range p.all {
		if !strings.Contains(msg, t) {
			return false
		}
	}
	for _, t := range p.none {
		if strings.Contains(msg, t) {
			return false
		}
	}
	if len(p.any) == 0 {
		return true
	}
	for _, t := range p.any {
		if strings.Contains(msg, t) {
			return true
		}
	}
	return false
}
