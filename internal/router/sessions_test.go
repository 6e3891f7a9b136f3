package router

import (
	"net/http"
	"testing"
	"time"
)

func TestParseNewSession(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		header, id string
		expires    time.Time
	}{
		{"abc; Expires=2026-12-05T10:20:00Z", "abc", now.Add(20 * time.Minute)},
		{" abc ;expires=Sat, 05 Dec 2026 10:30:00 GMT", "abc", now.Add(30 * time.Minute)},
		{"abc", "abc", now.Add(maxSessionLife)},
		{"abc; Expires=tomorrow", "abc", now.Add(maxSessionLife)},
		{"abc; Expires=2027-12-05T10:00:00Z", "abc", now.Add(maxSessionLife)}, // bounded
		{"; Expires=2026-12-05T10:20:00Z", "", now.Add(20 * time.Minute)},
	} {
		id, expires := parseNewSession(c.header, now)
		if id != c.id || !expires.Equal(c.expires) {
			t.Errorf("parseNewSession(%q) = %q, %v; want %q, %v", c.header, id, expires, c.id, c.expires)
		}
	}
}

func TestSessionTable(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	var tab sessionTable
	a, b := &backend{id: "a"}, &backend{id: "b"}
	tab.observe("ep", "v", a, http.Header{newSessionHeader: {"s1; Expires=2026-12-05T10:20:00Z"}}, now)
	tab.observe("ep", "v", b, http.Header{newSessionHeader: {"s2"}}, now)
	tab.observe("ep", "v", a, http.Header{}, now) // nothing said
	if s, ok := tab.lookup("ep", "s1", now.Add(time.Minute)); !ok || s.b != a || s.variant != "v" {
		t.Fatalf("s1: %+v %v", s, ok)
	}
	if _, ok := tab.lookup("other", "s1", now); ok {
		t.Fatal("a session is found on another endpoint")
	}
	if _, ok := tab.lookup("ep", "s1", now.Add(20*time.Minute)); ok {
		t.Fatal("s1 is found at its expiry")
	}
	tab.observe("ep", "v", b, http.Header{closedSessionHeader: {"s2"}}, now)
	if _, ok := tab.lookup("ep", "s2", now); ok {
		t.Fatal("s2 is found after the model closed it")
	}
	tab.observe("ep", "v", b, http.Header{newSessionHeader: {"s3"}}, now)
	b.removed.Store(true)
	if _, ok := tab.lookup("ep", "s3", now); ok {
		t.Fatal("s3 is found after its instance left")
	}
}
