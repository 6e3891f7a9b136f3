package tagging

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/store/memory"
)

func TestAdd(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	const arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"
	var tags []store.Tag
	for i := range Limit {
		tags = append(tags, store.Tag{Key: fmt.Sprintf("k%02d", i), Value: "v"})
	}
	if err := Add(ctx, st, arn, tags); err != nil {
		t.Fatal(err)
	}
	// Overwriting a key adds none.
	if err := Add(ctx, st, arn, []store.Tag{{Key: "k00", Value: "w"}}); err != nil {
		t.Fatal(err)
	}
	var bad *Error
	if err := Add(ctx, st, arn, []store.Tag{{Key: "k50", Value: "v"}}); !errors.As(err, &bad) || bad.Count != Limit+1 {
		t.Fatalf("the 51st tag: %v", err)
	}
	if err := Add(ctx, st, arn, []store.Tag{{Key: "AWS:owner", Value: "v"}}); !errors.As(err, &bad) || bad.Reserved != "AWS:owner" {
		t.Fatalf("a reserved key: %v", err)
	}
	have, _ := st.Tags(ctx, arn)
	if len(have) != Limit || have[0].Value != "w" {
		t.Fatalf("%d tags, the first %+v: want %d, k00=w (refusals change nothing)", len(have), have[0], Limit)
	}
}
