package process

import (
	"testing"

	"github.com/shirou/gopsutil/v4/process"
)

func createTime(t *testing.T, pid int) int64 {
	p, err := process.NewProcess(int32(pid))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := p.CreateTime()
	if err != nil {
		t.Fatal(err)
	}
	return ct
}
