package process

import (
	"context"
	"fmt"

	"github.com/ebbscale/ebb/internal/modeldata"
	"github.com/ebbscale/ebb/internal/runtime"
)

// Artifacts returns the artifact cache of the runtime's multi-model
// endpoints, kept in dir (runtime.ArtifactPreparer), under the same rules
// as a model's ModelDataUrl (local paths and file:// URLs under the model
// data roots): a directory is used in place, a .tar.gz is extracted once
// into the cache, where instances read it.
func (r *Runtime) Artifacts(dir string) runtime.Artifacts {
	c := &modeldata.Cache{Dir: dir, Fill: func(_ context.Context, url, dest string) (string, error) {
		return r.prepareModel(url, dest)
	}}
	return runtime.SharedArtifacts(c.Prepare)
}

// CheckModelData refuses a ModelDataUrl that is not a local path or a
// file:// URL (runtime.ModelDataChecker): instances are processes of this
// machine and read their model data in place.
func (r *Runtime) CheckModelData(url string) error {
	if _, local, err := modeldata.LocalPath(url); err != nil || local {
		return err
	}
	return fmt.Errorf("the process runtime reads model data from local paths and file:// URLs, not %s: copy the artifacts to a directory under a --model-data-root, or run ebb with --runtime docker or kubernetes", url)
}
