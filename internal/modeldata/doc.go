// Package modeldata makes a model's artifacts (ModelDataUrl) available to
// its model server: it extracts .tar.gz archives with a bound on what they
// may expand to, and fetches them over http(s):// and from S3. The process
// runtime extracts local archives with it; on Kubernetes the init container
// runs `ebb fetch-model`, which calls Fetch, and a multi-model pod's puller
// (`ebb fetch-model --serve`) serves a Cache to the router (Puller, Pull).
package modeldata
