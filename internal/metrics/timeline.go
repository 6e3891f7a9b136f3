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
	// packed counts the buckets from the oldest whose sketches are packed
	// (see pack); a bucket added or changed before it moves it back.
	packed int
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
	t.packed = min(t.packed, i) // the caller changes it: packed again later
	return &t.buckets[i]
}

// pack packs the sketches of the buckets that start before cutoff (see
// dist.pack), from where the last pack stopped.
func (t *timeline) pack(cutoff int64) {
	for ; t.packed < len(t.starts) && t.starts[t.packed] < cutoff; t.packed++ {
		t.buckets[t.packed].dist.pack()
	}
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
		t.packed = max(0, t.packed-i)
		// What a burst of points grew is given back (a day of 10-second
		// buckets, once three hours are kept).
		if n := len(t.starts); cap(t.starts) > 64 && cap(t.starts) > 2*n {
			t.starts = append(make([]int64, 0, n+n/4), t.starts...)
			t.buckets = append(make([]bucket, 0, n+n/4), t.buckets...)
		}
	}
}

func (t *timeline) len() int { return len(t.starts) }
