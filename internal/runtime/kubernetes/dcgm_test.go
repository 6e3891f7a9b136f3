package kubernetes

import (
	"strings"
	"testing"
)

// What dcgm-exporter serves with Kubernetes pod mapping (trimmed).
const dcgmSample = `# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).
# TYPE DCGM_FI_DEV_GPU_UTIL gauge
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-a",device="nvidia0",modelName="NVIDIA H200",Hostname="n1",container="model",namespace="ml",pod="ebb-ep-1"} 60
DCGM_FI_DEV_GPU_UTIL{gpu="1",UUID="GPU-b",device="nvidia1",modelName="NVIDIA H200",Hostname="n1",container="model",namespace="ml",pod="ebb-ep-1"} 20
DCGM_FI_DEV_GPU_UTIL{gpu="2",UUID="GPU-c",device="nvidia2",modelName="NVIDIA H200",Hostname="n1",container="model",namespace="ml",pod="other"} 99
# HELP DCGM_FI_DEV_FB_FREE Frame buffer memory free (in MiB).
# TYPE DCGM_FI_DEV_FB_FREE gauge
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-a",namespace="ml",pod="ebb-ep-1"} 750
DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-b",namespace="ml",pod="ebb-ep-1"} 500
# HELP DCGM_FI_DEV_FB_USED Frame buffer memory used (in MiB).
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-a",namespace="ml",pod="ebb-ep-1"} 250
DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-b",namespace="ml",pod="ebb-ep-1"} 500
`

func TestPodGPU(t *testing.T) {
	fams, err := parseDCGM(strings.NewReader(dcgmSample))
	if err != nil {
		t.Fatal(err)
	}
	u := podGPU(fams, "ml", "ebb-ep-1")
	if u == nil || u.Utilization != 80 || u.MemoryUtilization != 75 {
		t.Fatalf("podGPU = %+v, want 60+20 and 25+50 (summed over the pod's GPUs)", u)
	}
	if podGPU(fams, "ml", "no-gpu-pod") != nil {
		t.Fatal("a pod without GPUs got GPU usage: it must be absent")
	}
}
