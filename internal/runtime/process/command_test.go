package process

import (
	"slices"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"ebb example-model --work-ms 5", []string{"ebb", "example-model", "--work-ms", "5"}},
		{`python3 -c 'print("hi there")'`, []string{"python3", "-c", `print("hi there")`}},
		{`a "b c" d\ e ''`, []string{"a", "b c", "d e", ""}},
		{"  ", nil},
	}
	for _, tt := range tests {
		got, err := splitCommand(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if _, err := splitCommand(`a "b`); err == nil {
		t.Error("unterminated quote: want an error")
	}
}
