package docker

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/docker/docker/api/types/registry"
)

// TestRegistryAuth: the credential `docker login` stored for an image's
// registry, ECR's and Docker Hub's included, and none for another.
func TestRegistryAuth(t *testing.T) {
	dir := t.TempDir()
	auth := func(user, pass string) string { return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)) }
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths": {
		"123456789012.dkr.ecr.us-east-1.amazonaws.com": {"auth": "`+auth("AWS", "token")+`"},
		"https://index.docker.io/v1/": {"auth": "`+auth("me", "secret")+`"}}}`), 0o600)
	decode := func(enc string) registry.AuthConfig {
		var a registry.AuthConfig
		b, err := base64.URLEncoding.DecodeString(enc)
		if err != nil {
			t.Fatalf("%q: %v", enc, err)
		}
		json.Unmarshal(b, &a)
		return a
	}
	if a := decode(registryAuth(dir, "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:1")); a.Username != "AWS" || a.Password != "token" {
		t.Errorf("ECR: %+v", a)
	}
	if a := decode(registryAuth(dir, "me/model")); a.Username != "me" || a.Password != "secret" {
		t.Errorf("Docker Hub: %+v", a)
	}
	if got := registryAuth(dir, "ghcr.io/other/model"); got != "" {
		t.Errorf("another registry: %q", got)
	}
	if got := registryAuth(t.TempDir(), "me/model"); got != "" {
		t.Errorf("no configuration: %q", got)
	}
}
