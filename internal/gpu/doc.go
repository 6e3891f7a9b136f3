// Package gpu finds a machine's NVIDIA GPUs and reads their utilization
// through NVML, and hands them out to instances exclusively. NVML is loaded
// at run time (dlopen of libnvidia-ml.so.1 with purego, no cgo), so
// ebb builds and starts where there is no GPU or no driver: Open then fails
// and GPU instance types run without GPUs, publishing no GPU metrics.
package gpu
