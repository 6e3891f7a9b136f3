package docker

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/registry"
)

// registryAuth is the credential the Docker client's configuration holds
// for the registry of image (the "auths" of $DOCKER_CONFIG/config.json,
// default ~/.docker/config.json, which `docker login` writes), encoded as
// ImagePull takes it; "" when it holds none. Credential helpers (credsStore,
// credHelpers) are not run: log in with a plain store, or pull the image
// first (docker pull), and ebb uses it as it is.
func registryAuth(configDir, image string) string {
	if configDir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			configDir = filepath.Join(home, ".docker")
		}
	}
	b, err := os.ReadFile(filepath.Join(configDir, "config.json"))
	if err != nil {
		return ""
	}
	var cfg struct {
		Auths map[string]struct{ Auth string } `json:"auths"`
	}
	if json.Unmarshal(b, &cfg) != nil {
		return ""
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return ""
	}
	host := reference.Domain(named)
	for key, a := range cfg.Auths {
		if registryHost(key) != host && !(host == "docker.io" && registryHost(key) == "index.docker.io") {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(a.Auth)
		if err != nil {
			continue
		}
		user, pass, ok := strings.Cut(string(raw), ":")
		if !ok {
			continue
		}
		enc, err := registry.EncodeAuthConfig(registry.AuthConfig{Username: user, Password: pass, ServerAddress: key})
		if err != nil {
			return ""
		}
		return enc
	}
	return ""
}

// registryHost is the host of an "auths" key, which may be a URL
// (https://index.docker.io/v1/).
func registryHost(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, _, _ := strings.Cut(key, "/")
	return host
}
