package hosting

import (
	"context"
	"errors"
	"strings"

	"github.com/ebbscale/ebb/internal/store"
	"github.com/ebbscale/ebb/internal/tagging"
)

// checkTags refuses the tags of a resource to create (tagging.Check).
func checkTags(tags []store.Tag) error {
	return tagError("", tagging.Check(tags))
}

// tagError words a refusal of the tagging rules in SageMaker's errors.
func tagError(arn string, err error) error {
	var bad *tagging.Error
	switch {
	case !errors.As(err, &bad):
		return err
	case bad.Reserved != "":
		return errorf(ErrInvalid, "Tag keys starting with 'aws:' are reserved for system use: %q.", bad.Reserved)
	case arn == "":
		return errorf(ErrLimit, "A resource can have at most %d tags; the request has %d.", tagging.Limit, bad.Count)
	}
	return errorf(ErrLimit, "Resource %q would have %d tags; the limit is %d.", arn, bad.Count, tagging.Limit)
}

func (s *Service) addTags(ctx context.Context, arn string, tags []store.Tag) error {
	if len(tags) == 0 {
		return nil
	}
	return s.opts.Store.AddTags(ctx, arn, tags)
}

// resourceExists checks that arn names a model, endpoint configuration,
// endpoint or inference component of this account and region.
func (s *Service) resourceExists(ctx context.Context, arn string) error {
	prefix := s.arnPrefix()
	rest, ok := strings.CutPrefix(arn, prefix)
	kind, name, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		return errorf(ErrNotFound, "Resource %q does not exist.", arn)
	}
	var err error
	switch kind {
	case kindModel, kindEndpointConfig:
		_, err = s.opts.Store.Get(ctx, kind, name)
	case kindEndpoint:
		_, err = s.lookup(name)
	case kindComponent:
		_, err = s.lookupComponent(name)
	default:
		err = store.ErrNotFound
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrNotFound) {
			return errorf(ErrNotFound, "Resource %q does not exist.", arn)
		}
		return err
	}
	return nil
}

// AddTags adds or overwrites tags on a resource.
func (s *Service) AddTags(ctx context.Context, arn string, tags []store.Tag) error {
	if err := s.resourceExists(ctx, arn); err != nil {
		return err
	}
	return tagError(arn, tagging.Add(ctx, s.opts.Store, arn, tags))
}

// DeleteTags removes tags from a resource.
func (s *Service) DeleteTags(ctx context.Context, arn string, keys []string) error {
	if err := s.resourceExists(ctx, arn); err != nil {
		return err
	}
	return s.opts.Store.DeleteTags(ctx, arn, keys)
}

// ListTags pages through a resource's tags.
func (s *Service) ListTags(ctx context.Context, arn string, maxResults int, nextToken string) ([]store.Tag, string, error) {
	if err := s.resourceExists(ctx, arn); err != nil {
		return nil, "", err
	}
	tags, err := s.opts.Store.Tags(ctx, arn)
	if err != nil {
		return nil, "", err
	}
	if maxResults == 0 {
		maxResults = 50
	}
	// Pages are in key order, so a NextToken stays valid while tags change.
	return page(tags, ListQuery{MaxResults: maxResults, NextToken: nextToken, SortBy: "Name", SortOrder: "Ascending"},
		func(t store.Tag) item { return item{name: t.Key} })
}
