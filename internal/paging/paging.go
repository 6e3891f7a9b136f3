package paging

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"strconv"
	"strings"
)

// Token encodes a position as an opaque token.
func Token(pos string) string {
	b := binary.BigEndian.AppendUint32([]byte(pos), crc32.ChecksumIEEE([]byte(pos)))
	return base64.RawURLEncoding.EncodeToString(b)
}

// Position decodes a token; ok is false for one ebb did not hand out.
func Position(token string) (pos string, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 4 {
		return "", false
	}
	p, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(p) != sum {
		return "", false
	}
	return string(p), true
}

// OffsetToken is the token of an offset into a result.
func OffsetToken(n int) string { return Token(strconv.Itoa(n)) }

// ParseOffset decodes an OffsetToken.
func ParseOffset(token string) (int, bool) {
	s, ok := Position(token)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// Offset pages items by position: at most max from the offset token names
// (the start, without one).
func Offset[T any](items []T, token string, max int) (page []T, next string, ok bool) {
	start := 0
	if token != "" {
		if start, ok = ParseOffset(token); !ok || start > len(items) {
			return nil, "", false
		}
	}
	end := min(start+max, len(items))
	if end < len(items) {
		next = OffsetToken(end)
	}
	return items[start:end], next, true
}

// After pages items sorted by key: at most max of those after the key
// token names. A page continues after the last item of the one before,
// even when items were added or deleted meanwhile.
func After[T any](items []T, key func(T) string, token string, max int) (page []T, next string, ok bool) {
	start := 0
	if token != "" {
		after, ok := Position(token)
		if !ok {
			return nil, "", false
		}
		for start < len(items) && key(items[start]) <= after {
			start++
		}
	}
	end := min(start+max, len(items))
	if end < len(items) {
		next = Token(key(items[end-1]))
	}
	return items[start:end], next, true
}

// Resume pages items in any order (newest first, by status): at most max
// after the item token names, found by its key, or at the token's offset
// when that item is gone.
func Resume[T any](items []T, key func(T) string, token string, max int) (page []T, next string, ok bool) {
	start := 0
	if token != "" {
		pos, ok := Position(token)
		off, after, found := strings.Cut(pos, "/")
		n, err := strconv.Atoi(off)
		if !ok || !found || err != nil || n < 0 {
			return nil, "", false
		}
		start = min(n, len(items))
		for i, x := range items {
			if key(x) == after {
				start = i + 1
				break
			}
		}
	}
	end := min(start+max, len(items))
	if end < len(items) {
		next = Token(strconv.Itoa(end) + "/" + key(items[end-1]))
	}
	return items[start:end], next, true
}
