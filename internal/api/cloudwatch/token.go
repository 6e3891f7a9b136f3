package cloudwatch

import (
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"strconv"
)

// A page token names the last item of the page before it, with a CRC-32
// of that name, so that a token this server did not hand out (a garbage
// NextToken) is refused with InvalidNextToken instead of answering a page
// that starts somewhere arbitrary.

func encodeToken(after string) string {
	b := binary.BigEndian.AppendUint32([]byte(after), crc32.ChecksumIEEE([]byte(after)))
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(token string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) < 4 {
		return "", invalidNextToken()
	}
	after, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(after) != sum {
		return "", invalidNextToken()
	}
	return string(after), nil
}

// encodeOffset and decodeOffset are page tokens of an offset into a
// result (GetMetricData's datapoints, DescribeAlarmHistory's items).
func encodeOffset(n int) string { return encodeToken(strconv.Itoa(n)) }

func decodeOffset(token string) (int, error) {
	s, err := decodeToken(token)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, invalidNextToken()
	}
	return n, nil
}
