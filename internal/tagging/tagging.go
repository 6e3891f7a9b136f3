package tagging

import (
	"context"
	"fmt"
	"strings"

	"github.com/ebbscale/ebb/internal/store"
)

// Limit is how many tags one resource may hold.
const Limit = 50

// Store keeps tags by ARN (store.Store).
type Store interface {
	AddTags(ctx context.Context, arn string, tags []store.Tag) error
	Tags(ctx context.Context, arn string) ([]store.Tag, error)
}

// Error is a tagging request refused, and why: a key with AWS's prefix
// (Reserved), or more than Limit tags on the resource (Count).
type Error struct {
	Reserved string
	Count    int
}

func (e *Error) Error() string {
	if e.Reserved != "" {
		return fmt.Sprintf("Tag key %q uses the prefix aws:, which is reserved for AWS.", e.Reserved)
	}
	return fmt.Sprintf("The resource would have %d tags; the limit is %d.", e.Count, Limit)
}

// Check refuses, with an *Error, tags no resource may be given: a reserved
// key, or more than Limit.
func Check(tags []store.Tag) error {
	keys := map[string]bool{}
	for _, t := range tags {
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return &Error{Reserved: t.Key}
		}
		keys[t.Key] = true
	}
	if len(keys) > Limit {
		return &Error{Count: len(keys)}
	}
	return nil
}

// Add adds tags to arn, or overwrites those of the same keys; a request
// that breaks a rule is refused with an *Error and changes nothing.
func Add(ctx context.Context, st Store, arn string, tags []store.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	if err := Check(tags); err != nil {
		return err
	}
	have, err := st.Tags(ctx, arn)
	if err != nil {
		return err
	}
	keys := map[string]bool{}
	for _, list := range [][]store.Tag{have, tags} {
		for _, t := range list {
			keys[t.Key] = true
		}
	}
	if len(keys) > Limit {
		return &Error{Count: len(keys)}
	}
	return st.AddTags(ctx, arn, tags)
}
