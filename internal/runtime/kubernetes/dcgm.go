package kubernetes

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/ebbscale/ebb/internal/runtime"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// dcgm reads per-pod GPU usage from NVIDIA's DCGM exporter (its Prometheus
// endpoint, with Kubernetes pod labels), scraping at most once a second
// however many instances ask.
type dcgm struct {
	url    string
	client *http.Client

	mu       sync.Mutex
	at       time.Time
	families map[string]*dto.MetricFamily
	err      error
}

// The DCGM fields ebb reads: GPU utilization (percent) and frame-buffer
// memory used and free (MiB).
const (
	dcgmUtil   = "DCGM_FI_DEV_GPU_UTIL"
	dcgmFBUsed = "DCGM_FI_DEV_FB_USED"
	dcgmFBFree = "DCGM_FI_DEV_FB_FREE"
)

func (d *dcgm) scrape() (map[string]*dto.MetricFamily, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if time.Since(d.at) < time.Second {
		return d.families, d.err
	}
	d.at = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.url, nil)
	if err != nil {
		d.families, d.err = nil, err
		return nil, err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.families, d.err = nil, fmt.Errorf("DCGM exporter: %w", err)
		return nil, d.err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		d.families, d.err = nil, fmt.Errorf("DCGM exporter: %s", resp.Status)
		return nil, d.err
	}
	d.families, d.err = parseDCGM(resp.Body)
	return d.families, d.err
}

func parseDCGM(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("DCGM exporter: %w", err)
	}
	return fams, nil
}

// podGPU sums the usage of the GPUs DCGM attributes to a pod, as SageMaker
// publishes it (percent summed over the instance's GPUs); nil when DCGM
// reports none for it.
func podGPU(fams map[string]*dto.MetricFamily, namespace, pod string) *runtime.GPUUsage {
	type gpuMem struct{ used, free float64 }
	util := map[string]float64{}
	mem := map[string]*gpuMem{}
	each := func(name string, f func(uuid string, v float64)) {
		fam := fams[name]
		if fam == nil {
			return
		}
		for _, m := range fam.Metric {
			var ns, pd, uuid string
			for _, l := range m.Label {
				switch l.GetName() {
				case "namespace":
					ns = l.GetValue()
				case "pod":
					pd = l.GetValue()
				case "UUID":
					uuid = l.GetValue()
				}
			}
			if ns != namespace || pd != pod {
				continue
			}
			var v float64
			switch {
			case m.Gauge != nil:
				v = m.Gauge.GetValue()
			case m.Counter != nil:
				v = m.Counter.GetValue()
			case m.Untyped != nil:
				v = m.Untyped.GetValue()
			}
			f(uuid, v)
		}
	}
	memOf := func(uuid string) *gpuMem {
		if mem[uuid] == nil {
			mem[uuid] = &gpuMem{}
		}
		return mem[uuid]
	}
	each(dcgmUtil, func(uuid string, v float64) { util[uuid] = v })
	each(dcgmFBUsed, func(uuid string, v float64) { memOf(uuid).used = v })
	each(dcgmFBFree, func(uuid string, v float64) { memOf(uuid).free = v })
	if len(util) == 0 {
		return nil
	}
	var u runtime.GPUUsage
	for uuid, v := range util {
		u.Utilization += v
		if m := mem[uuid]; m != nil && m.used+m.free > 0 {
			u.MemoryUtilization += 100 * m.used / (m.used + m.free)
		}
	}
	return &u
}
