package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

func TestSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ebb.db")
	s, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1700000000, 0)
	if err := s.Create(ctx, "endpoint", "My-Ep", now, []byte(`{"a":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "endpoint", "my-ep", now, []byte(`{}`)); !errors.Is(err, ErrExists) {
		t.Fatalf("case-insensitive duplicate: got %v, want ErrExists", err)
	}
	if err := s.Update(ctx, "endpoint", "my-ep", []byte(`{"a":2}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTags(ctx, "arn:x", []Tag{{"k1", "v1"}, {"k2", "v2"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTags(ctx, "arn:x", []Tag{{"k1", "v1b"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTags(ctx, "arn:x", []string{"k2", "nope"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Everything survives reopening.
	s, err = OpenSQLite(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	doc, err := s.Get(ctx, "endpoint", "MY-EP")
	if err != nil || string(doc) != `{"a":2}` {
		t.Fatalf("Get = %s, %v", doc, err)
	}
	tags, _ := s.Tags(ctx, "arn:x")
	if len(tags) != 1 || tags[0] != (Tag{"k1", "v1b"}) {
		t.Fatalf("tags = %v", tags)
	}
	if err := s.Delete(ctx, "endpoint", "my-ep"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "endpoint", "my-ep"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}
