package hosting

import (
	"sort"
	"strings"
	"time"

	"github.com/ebbscale/ebb/internal/paging"
)

// ListQuery holds the filters, sort and paging of the List* operations.
type ListQuery struct {
	NameContains           string
	CreationTimeBefore     *time.Time
	CreationTimeAfter      *time.Time
	LastModifiedTimeBefore *time.Time
	LastModifiedTimeAfter  *time.Time
	StatusEquals           string
	SortBy                 string // Name, CreationTime (default), Status
	SortOrder              string // Ascending, Descending (default)
	MaxResults             int    // default 10
	NextToken              string
}

// item is what filtering and sorting look at.
type item struct {
	name         string
	created      time.Time
	lastModified time.Time
	status       string
}

// page filters, sorts and pages a list as SageMaker's List* operations do.
// NextToken names the last item returned, so a page continues after it even
// if earlier items were deleted meanwhile (paging.Resume).
func page[T any](all []T, q ListQuery, key func(T) item) ([]T, string, error) {
	kept := all[:0:0]
	for _, x := range all {
		it := key(x)
		if q.NameContains != "" && !strings.Contains(strings.ToLower(it.name), strings.ToLower(q.NameContains)) {
			continue
		}
		if q.CreationTimeBefore != nil && !it.created.Before(*q.CreationTimeBefore) ||
			q.CreationTimeAfter != nil && !it.created.After(*q.CreationTimeAfter) ||
			q.LastModifiedTimeBefore != nil && !it.lastModified.Before(*q.LastModifiedTimeBefore) ||
			q.LastModifiedTimeAfter != nil && !it.lastModified.After(*q.LastModifiedTimeAfter) ||
			q.StatusEquals != "" && it.status != q.StatusEquals {
			continue
		}
		kept = append(kept, x)
	}
	less := func(a, b item) bool {
		switch q.SortBy {
		case "Name":
			return a.name < b.name
		case "Status":
			if a.status != b.status {
				return a.status < b.status
			}
		}
		if !a.created.Equal(b.created) {
			return a.created.Before(b.created)
		}
		return a.name < b.name
	}
	desc := q.SortOrder != "Ascending"
	sort.SliceStable(kept, func(i, j int) bool {
		a, b := key(kept[i]), key(kept[j])
		if desc {
			return less(b, a)
		}
		return less(a, b)
	})
	max := q.MaxResults
	if max <= 0 {
		max = 10
	}
	out, next, ok := paging.Resume(kept, func(x T) string { return key(x).name }, q.NextToken, max)
	if !ok {
		return nil, "", errorf(ErrInvalid, "Invalid pagination token %q.", q.NextToken)
	}
	return out, next, nil
}
