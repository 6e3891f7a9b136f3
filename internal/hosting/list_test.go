package hosting

import (
	"errors"
	"testing"
	"time"
)

func TestPage(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	all := []item{
		{name: "b", created: t0.Add(1 * time.Minute), status: "InService"},
		{name: "a", created: t0.Add(2 * time.Minute), status: "Failed"},
		{name: "c-prod", created: t0.Add(3 * time.Minute), status: "InService"},
	}
	key := func(i item) item { return i }
	names := func(items []item) (out []string) {
		for _, i := range items {
			out = append(out, i.name)
		}
		return out
	}
	tests := []struct {
		name string
		q    ListQuery
		want []string
	}{
		{"default newest first", ListQuery{}, []string{"c-prod", "a", "b"}},
		{"name ascending", ListQuery{SortBy: "Name", SortOrder: "Ascending"}, []string{"a", "b", "c-prod"}},
		{"status", ListQuery{SortBy: "Status", SortOrder: "Ascending"}, []string{"a", "b", "c-prod"}},
		{"contains, any case", ListQuery{NameContains: "PROD"}, []string{"c-prod"}},
		{"status equals", ListQuery{StatusEquals: "InService"}, []string{"c-prod", "b"}},
		{"created after", ListQuery{CreationTimeAfter: ptr(t0.Add(90 * time.Second))}, []string{"c-prod", "a"}},
		{"created before", ListQuery{CreationTimeBefore: ptr(t0.Add(90 * time.Second))}, []string{"b"}},
	}
	for _, tt := range tests {
		got, _, err := page(all, tt.q, key)
		if err != nil || !equal(names(got), tt.want) {
			t.Errorf("%s: got %v, %v; want %v", tt.name, names(got), err, tt.want)
		}
	}

	first, next, _ := page(all, ListQuery{MaxResults: 2}, key)
	if len(first) != 2 || next == "" {
		t.Fatalf("first page %v, next %q", names(first), next)
	}
	// The item after the cursor is still found when an earlier one is gone.
	rest, next2, _ := page(all[:2], ListQuery{MaxResults: 2, NextToken: next}, key)
	if !equal(names(rest), []string{"b"}) || next2 != "" {
		t.Fatalf("second page %v, next %q", names(rest), next2)
	}
	if _, _, err := page(all, ListQuery{NextToken: "%%%"}, key); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad token: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
