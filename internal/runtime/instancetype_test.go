package runtime

import "testing"

func TestLookupInstanceType(t *testing.T) {
	tests := []struct {
		name      string
		vcpus     int
		memoryMiB int
		gpus      int
	}{
		{"ml.t2.medium", 2, 4096, 0},
		{"ml.m5.large", 2, 8192, 0},
		{"ml.m5.xlarge", 4, 16384, 0},
		{"ml.c5.2xlarge", 8, 16384, 0},
		{"ml.r5.4xlarge", 16, 131072, 0},
		{"ml.g5.12xlarge", 48, 196608, 4},
		{"ml.inf1.xlarge", 4, 8192, 0},
	}
	for _, tt := range tests {
		got, err := LookupInstanceType(tt.name)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got.VCPUs != tt.vcpus || got.MemoryMiB != tt.memoryMiB || got.GPUs != tt.gpus {
			t.Errorf("%s = %+v, want %d vCPUs, %d MiB, %d GPUs", tt.name, got, tt.vcpus, tt.memoryMiB, tt.gpus)
		}
	}
	for _, bad := range []string{"m5.large", "ml.m5.huge", "ml.m5.0xlarge"} {
		if _, err := LookupInstanceType(bad); err == nil {
			t.Errorf("%s: want an error", bad)
		}
	}
}
