package hosting

import (
	"context"
	"errors"
	"strings"

	"github.com/ebbscale/ebb/internal/store"
)

// maxTags is SageMaker's limit of tags per resource.
const maxTags = 50

func checkTags(tags []store.Tag) error {
	for _, t := range tags {
		if strings.HasPrefix(strings.ToLower(t.Key), "aws:") {
			return errorf(ErrInvalid, "Tag keys starting with 'aws:' are reserved for system use: %q.", t.Key)
		}
	}
	return nil
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
	if err := checkTags(tags); err != nil {
		return err
	}
	have, err := s.opts.Store.Tags(ctx, arn)
	if err != nil {
		return err
	}
	keys := map[string]bool{}
	for _, t := range have {
		keys[t.Key] = true
	}
	for _, t := range tags {
		keys[t.Key] = true
	}
	if len(keys) > maxTags {
		return errorf(ErrLimit, "Resource %q would have %d tags; the limit is %d.", arn, len(keys), maxTags)
	}
	return s.opts.Store.AddTags(ctx, arn, tags)
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
