package paging

import (
	"slices"
	"strconv"
	"testing"
)

func TestTokensRefuseWhatEbbDidNotHandOut(t *testing.T) {
	for _, bad := range []string{"%%%", "", "AAAA", Token("x")[1:], "bm90IGEgdG9rZW4"} {
		if _, ok := Position(bad); ok {
			t.Errorf("Position(%q) accepted", bad)
		}
	}
	if pos, ok := Position(Token("alarm-7")); !ok || pos != "alarm-7" {
		t.Fatalf("round trip = %q, %v", pos, ok)
	}
	if _, ok := ParseOffset(Token("-1")); ok {
		t.Fatal("a negative offset was accepted")
	}
}

// pages collects every page of items through page.
func pages(t *testing.T, page func(token string) ([]string, string, bool)) []string {
	t.Helper()
	var all []string
	token := ""
	for range 100 {
		p, next, ok := page(token)
		if !ok {
			t.Fatalf("token %q refused", token)
		}
		all = append(all, p...)
		if next == "" {
			return all
		}
		token = next
	}
	t.Fatal("no last page")
	return nil
}

func TestEveryItemOnce(t *testing.T) {
	var items []string
	for i := range 23 {
		items = append(items, "item-"+strconv.Itoa(100+i))
	}
	id := func(s string) string { return s }
	for name, page := range map[string]func(string) ([]string, string, bool){
		"Offset": func(tok string) ([]string, string, bool) { return Offset(items, tok, 5) },
		"After":  func(tok string) ([]string, string, bool) { return After(items, id, tok, 5) },
		"Resume": func(tok string) ([]string, string, bool) { return Resume(items, id, tok, 5) },
	} {
		if got := pages(t, page); !slices.Equal(got, items) {
			t.Errorf("%s: %v", name, got)
		}
	}
}

// TestDeletedMeanwhile: items deleted between two pages move no other
// item past the next page (After and Resume name the last item).
func TestDeletedMeanwhile(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e", "f"}
	id := func(s string) string { return s }
	first, next, _ := After(items, id, "", 3)
	rest, _, _ := After(items[2:], id, next, 3) // a and b deleted
	if got := append(first, rest...); !slices.Equal(got, items) {
		t.Errorf("After: %v", got)
	}
	first, next, _ = Resume(items, id, "", 3)
	rest, _, _ = Resume(slices.Delete(slices.Clone(items), 0, 2), id, next, 3)
	if got := append(first, rest...); !slices.Equal(got, items) {
		t.Errorf("Resume: %v", got)
	}
	// The named item gone too: Resume continues at the offset.
	rest, _, _ = Resume([]string{"a", "b", "x", "d", "e", "f"}, id, next, 3)
	if !slices.Equal(rest, []string{"d", "e", "f"}) {
		t.Errorf("Resume without its item: %v", rest)
	}
}
