package metrics

import "slices"

// timeline is one resolution's buckets of a series, in time order. New
// datapoints nearly always extend it at the end, and a query reads a run of
// neighbours from contiguous memory: an alarm reads 5 to 17 of them, 40,000
// alarms a minute, and buckets spread over the heap behind a map cost a
// cache miss each.
type timeline struct {
	starts  []int64 // bucket start seconds, ascending
	buckets []bucket
}

// search returns where start is, or would be inserted. A timeline is
// mostly a bucket every step, so the place is guessed from the distance to
// the last bucket first (an alarm reads its last 5 to 17 periods: a binary
// search there missed the cache at every step).
func (t *timeline) search(start int64) (int, bool) {
	n := len(t.starts)
	if n == 0 || t.starts[n-1] < start {
		return n, false
	} else if t.starts[n-1] == start {
		return n - 1, true
	}
	if n >= 2 {
		if step := t.starts[n-1] - t.starts[n-2]; step > 0 {
			if i := n - 1 - int((t.starts[n-1]-start)/step); i >= 0 {
				if t.starts[i] == start {
					return i, true
				}
				if t.starts[i] < start && t.starts[i+1] > start {
					return i + 1, false
				}
			}
		}
	}
	return slices.BinarySearch(t.starts, start)
}

// get returns the bucket at start, or nil. The pointer is valid until the
// timeline next changes.
func (t *timeline) get(start int64) *bucket {
	if i, ok := t.search(start); ok {
		return &t.buckets[i]
	}
	return nil
}

// add returns the bucket at start, adding an empty one if there is none.
// The pointer is valid until the timeline next changes.
func (t *timeline) add(start int64) *bucket {
	i, ok := t.search(start)
	if !ok {
		t.starts = slices.Insert(t.starts, i, start)
		t.buckets = slices.Insert(t.buckets, i, bucket{})
	}
	return &t.buckets[i]
}

// from returns the index of the first bucket that starts at or after start.
func (t *timeline) from(start int64) int {
	i, _ := t.search(start)
	return i
}

// dropBefore removes the buckets that start before start.
func (t *timeline) dropBefore(start int64) {
	if i := t.from(start); i > 0 {
		t.starts = slices.Delete(t.starts, 0, i)
		t.buckets = slices.Delete(t.buckets, 0, i)
	}
}

func (t *timeline) len() int { return len(t.starts) }
