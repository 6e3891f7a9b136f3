package store

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/ebbscale/ebb/internal/metrics"
)

// Sentinel errors callers branch on.
var (
	ErrNotFound = errors.New("store: not found")
	ErrExists   = errors.New("store: already exists")
)

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// HistoryItem is one entry of an alarm's history.
type HistoryItem struct {
	Alarm     string
	Timestamp time.Time
	Type      string
	Summary   string
	// Data is the item's JSON document. AddHistory keeps none of its
	// bytes (the monitor writes a round's documents into one array it
	// reuses).
	Data []byte
}

// AsyncRequest is a row of the async queue.
type AsyncRequest struct {
	Seq      int64
	Endpoint string
	State    string
	Doc      []byte
}

// AsyncDone is the state of a finished async request, which OpenAsync no
// longer returns.
const AsyncDone = "done"

// Doc is one document of an Upsert.
type Doc struct {
	Name    string
	Created time.Time // when it is new
	Doc     []byte
}

// Documents are JSON documents keyed by kind and name. Names are unique
// without regard to case, as SageMaker's are.
type Documents interface {
	// Create stores a new document; ErrExists if kind/name is taken in any
	// case.
	Create(ctx context.Context, kind, name string, created time.Time, doc []byte) error
	// Update replaces a document; ErrNotFound if there is none.
	Update(ctx context.Context, kind, name string, doc []byte) error
	// Upsert creates each document or replaces the one of its name (whose
	// creation time stays), all in one transaction: a loop that changes
	// thousands of documents a round (alarm states) writes them at once.
	// Like every write here, it keeps none of the bytes it is given once
	// it returns: callers reuse their arrays.
	Upsert(ctx context.Context, kind string, docs []Doc) error
	// Get returns a document; ErrNotFound if there is none.
	Get(ctx context.Context, kind, name string) ([]byte, error)
	// Delete removes a document; ErrNotFound if there is none.
	Delete(ctx context.Context, kind, name string) error
	// List returns every document of a kind, oldest first (then by name,
	// without regard to case).
	List(ctx context.Context, kind string) ([][]byte, error)
	// Each calls fn with every document of a kind in List's order, one at
	// a time; doc is valid only during the call.
	Each(ctx context.Context, kind string, fn func(doc []byte) error) error
}

// Tags are resource tags keyed by ARN, in the order they were first set.
type Tags interface {
	// AddTags adds or overwrites tags (an overwritten key keeps its place).
	AddTags(ctx context.Context, arn string, tags []Tag) error
	DeleteTags(ctx context.Context, arn string, keys []string) error
	Tags(ctx context.Context, arn string) ([]Tag, error)
}

// History is alarm history.
type History interface {
	AddHistory(ctx context.Context, items []HistoryItem) error
	// History returns an alarm's items ("" for every alarm) of a type (""
	// for every type) with start <= Timestamp < end, newest first.
	History(ctx context.Context, alarm, typ string, start, end time.Time) ([]HistoryItem, error)
	PruneHistory(ctx context.Context, before time.Time) error
}

// ActivityDoc is a scaling activity as stored: its ID, the key of its
// target, its start time and its document.
type ActivityDoc struct {
	ID, Target string
	Start      time.Time
	Doc        []byte
}

// Activities are scaling activities.
type Activities interface {
	// PutActivities inserts or replaces activities, all or none.
	PutActivities(ctx context.Context, as []ActivityDoc) error
	// Activities returns the activities of targets whose key starts with
	// prefix that started at or after since (the zero time: all), newest
	// first.
	Activities(ctx context.Context, prefix string, since time.Time) ([][]byte, error)
	PruneActivities(ctx context.Context, before time.Time) error
}

// AsyncQueue is the durable queue of async invocations.
type AsyncQueue interface {
	// EnqueueAsync stores a new queued request and returns its sequence
	// number, increasing; it is durable when this returns.
	EnqueueAsync(ctx context.Context, endpoint string, doc []byte) (int64, error)
	UpdateAsync(ctx context.Context, seq int64, state string, doc []byte) error
	// OpenAsync returns the requests not AsyncDone, oldest first.
	OpenAsync(ctx context.Context) ([]AsyncRequest, error)
}

// Store is every capability: what a backend (SQLite, memory, PostgreSQL)
// implements and storetest checks.
type Store interface {
	Documents
	Tags
	History
	Activities
	AsyncQueue
	metrics.Persister
	Close() error
}

// SinceNanos is since in Unix nanoseconds for a query of what starts at or
// after it; the zero time (which UnixNano cannot represent) is the earliest.
func SinceNanos(since time.Time) int64 {
	if since.IsZero() {
		return math.MinInt64
	}
	return since.UnixNano()
}
