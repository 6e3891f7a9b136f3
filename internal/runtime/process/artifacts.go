package process

import (
	"context"

	"github.com/ebbscale/ebb/internal/modeldata"
	"github.com/ebbscale/ebb/internal/runtime"
)

// Artifacts returns the artifact cache of the runtime's multi-model
// endpoints, kept in dir (runtime.ArtifactPreparer), under the same rules
// as a model's ModelDataUrl (local paths and file:// URLs under the model
// data roots): a directory is used in place, a .tar.gz is extracted once
// into the cache, where instances read it.
func (r *Runtime) Artifacts(dir string) runtime.Artifacts {
	return &modeldata.Cache{Dir: dir, Fill: func(_ context.Context, url, dest string) (string, error) {
		return r.prepareModel(url, dest)
	}}
}
