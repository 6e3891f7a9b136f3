package docker

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/registry"
)

// dockerHubServer is the server address Docker keeps Docker Hub's
// credentials under.
const dockerHubServer = "https://index.docker.io/v1/"

// clientConfig is what ebb reads of the Docker client's config.json.
type clientConfig struct {
	Auths       map[string]struct{ Auth string } `json:"auths"`
	CredsStore  string                           `json:"credsStore"`
	CredHelpers map[string]string                `json:"credHelpers"`
}

// registryAuth is the credential the Docker client's configuration
// ($DOCKER_CONFIG/config.json, default ~/.docker/config.json) gives for
// the registry of image, encoded as ImagePull takes it; "" when it gives
// none. As the docker CLI, it asks the registry's credential helper
// (credHelpers, else credsStore: docker-credential-NAME on the PATH, such
// as ecr-login for ECR) and otherwise takes what `docker login` stored in
// "auths". A helper that fails is an error; one that has no credential
// for the registry is none.
func registryAuth(ctx context.Context, configDir, image string) (string, error) {
	if configDir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			configDir = filepath.Join(home, ".docker")
		}
	}
	b, err := os.ReadFile(filepath.Join(configDir, "config.json"))
	if err != nil {
		return "", nil
	}
	var cfg clientConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("the Docker client's configuration %s: %w", filepath.Join(configDir, "config.json"), err)
	}
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", nil
	}
	host := reference.Domain(named)
	server := host
	if host == "docker.io" {
		server = dockerHubServer
	}
	helper := cfg.CredHelpers[host]
	if helper == "" {
		helper = cfg.CredsStore
	}
	if helper != "" {
		a, err := fromHelper(ctx, helper, server)
		if err != nil || a != nil {
			return encode(a, err)
		}
	}
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
		return encode(&registry.AuthConfig{Username: user, Password: pass, ServerAddress: key}, nil)
	}
	return "", nil
}

// fromHelper runs `docker-credential-NAME get` for server, as the docker
// CLI does; nil when the helper holds nothing for it.
func fromHelper(ctx context.Context, name, server string) (*registry.AuthConfig, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	bin := "docker-credential-" + name
	cmd := exec.CommandContext(ctx, bin, "get")
	cmd.Stdin = strings.NewReader(server)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stdout.String() + " " + stderr.String())
		if strings.Contains(msg, "credentials not found") {
			return nil, nil
		}
		return nil, fmt.Errorf("the Docker credential helper %s for %s: %v: %s", bin, server, err, msg)
	}
	var out struct{ ServerURL, Username, Secret string }
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("the Docker credential helper %s for %s: %w", bin, server, err)
	}
	a := &registry.AuthConfig{ServerAddress: server}
	if out.Username == "<token>" { // an identity token, as the CLI stores them
		a.IdentityToken = out.Secret
	} else {
		a.Username, a.Password = out.Username, out.Secret
	}
	return a, nil
}

func encode(a *registry.AuthConfig, err error) (string, error) {
	if err != nil || a == nil {
		return "", err
	}
	return registry.EncodeAuthConfig(*a)
}

// registryHost is the host of an "auths" key, which may be a URL
// (https://index.docker.io/v1/).
func registryHost(key string) string {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	host, _, _ := strings.Cut(key, "/")
	return host
}
