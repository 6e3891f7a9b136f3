package hosting

import (
	"encoding/base64"
	"encoding/json"
	"sort"
	"strings"
	"time"
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

type token struct {
	Offset int    `json:"o"`
	After  string `json:"a"`
}

// page filters, sorts and pages a list as SageMaker's List* operations do.
// NextToken names the last item returned, so a page continues after it even
// if earlier items were deleted meanwhile.
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
	start := 0
	if q.NextToken != "" {
		raw, err := base64.RawURLEncoding.DecodeString(q.NextToken)
		var t token
		if err != nil || json.Unmarshal(raw, &t) != nil || t.Offset < 0 {
			return nil, "", errorf(ErrInvalid, "Invalid pagination token %q.", q.NextToken)
		}
		start = min(t.Offset, len(kept))
		for i, x := range kept {
			if key(x).name == t.After {
				start = i + 1
				break
			}
		}
	}
	max := q.MaxResults
	if max <= 0 {
		max = 10
	}
	end := min(start+max, len(kept))
	out := kept[start:end]
	next := ""
	if end < len(kept) {
		b, _ := json.Marshal(token{Offset: end, After: key(out[len(out)-1]).name})
		next = base64.RawURLEncoding.EncodeToString(b)
	}
	return out, next, nil
}
