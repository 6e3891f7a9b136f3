package runtime

import (
	"fmt"
	"strconv"
	"strings"
)

// InstanceType is an ml.* instance type with the size SageMaker gives it.
type InstanceType struct {
	Name      string
	VCPUs     int
	MemoryMiB int
	GPUs      int
}

// sizes maps the size part of an instance type to its vCPU count; AWS sizes
// follow this scheme across the general, compute and memory families.
var sizes = map[string]int{
	"medium": 1, "large": 2, "xlarge": 4,
}

// memoryPerVCPU is GiB of memory per vCPU by family prefix (c: compute, m:
// general purpose, r: memory optimised, ...), as in the EC2 instance tables.
var memoryPerVCPU = map[string]float64{
	"c": 2, "m": 4, "r": 8, "t": 4, "g": 4, "p": 7.6, "inf": 2, "trn": 4, "x": 16, "z": 8,
}

// gpus lists the GPU counts of the accelerated types ebb knows of.
var gpus = map[string]int{
	"ml.g4dn.xlarge": 1, "ml.g4dn.2xlarge": 1, "ml.g4dn.4xlarge": 1, "ml.g4dn.8xlarge": 1, "ml.g4dn.12xlarge": 4, "ml.g4dn.16xlarge": 1,
	"ml.g5.xlarge": 1, "ml.g5.2xlarge": 1, "ml.g5.4xlarge": 1, "ml.g5.8xlarge": 1, "ml.g5.12xlarge": 4, "ml.g5.16xlarge": 1, "ml.g5.24xlarge": 4, "ml.g5.48xlarge": 8,
	"ml.p3.2xlarge": 1, "ml.p3.8xlarge": 4, "ml.p3.16xlarge": 8, "ml.p4d.24xlarge": 8,
}

// overrides are types whose sizes do not follow the general scheme.
var overrides = map[string]InstanceType{
	"ml.t2.medium":   {VCPUs: 2, MemoryMiB: 4096},
	"ml.m4.10xlarge": {VCPUs: 40, MemoryMiB: 163840},
	"ml.p3.2xlarge":  {VCPUs: 8, MemoryMiB: 62464, GPUs: 1},
}

// LookupInstanceType returns the size of an ml.* instance type. Types follow
// the ml.<family>.<size> scheme: "large" is 2 vCPUs, "xlarge" 4 and
// "<n>xlarge" 4n; memory per vCPU depends on the family's letter.
func LookupInstanceType(name string) (InstanceType, error) {
	if t, ok := overrides[name]; ok {
		t.Name = name
		return t, nil
	}
	parts := strings.Split(name, ".")
	if len(parts) != 3 || parts[0] != "ml" {
		return InstanceType{}, fmt.Errorf("instance type %q is not of the form ml.<family>.<size>", name)
	}
	family, size := parts[1], parts[2]
	vcpus, ok := sizes[size]
	if !ok {
		n, err := strconv.Atoi(strings.TrimSuffix(size, "xlarge"))
		if err != nil || !strings.HasSuffix(size, "xlarge") || n <= 0 {
			return InstanceType{}, fmt.Errorf("instance type %q has an unknown size %q", name, size)
		}
		vcpus = 4 * n
	}
	perVCPU, longest := 4.0, 0 // the longest matching family prefix wins
	for prefix, gib := range memoryPerVCPU {
		if strings.HasPrefix(family, prefix) && len(prefix) > longest {
			perVCPU, longest = gib, len(prefix)
		}
	}
	return InstanceType{Name: name, VCPUs: vcpus, MemoryMiB: int(float64(vcpus) * perVCPU * 1024), GPUs: gpus[name]}, nil
}
