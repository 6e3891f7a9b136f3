package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/registry"
)

// TestRegistryAuth: the credential the Docker client's configuration gives
// for an image's registry: what `docker login` stored (ECR's and Docker
// Hub's included), what a credential helper answers (credHelpers before
// credsStore, an identity token as one), none for another registry, and a
// failing helper's error.
func TestRegistryAuth(t *testing.T) {
	bin := t.TempDir()
	// Helpers as the docker CLI runs them: `get`, the server on stdin.
	helper := func(name, script string) {
		os.WriteFile(filepath.Join(bin, "docker-credential-"+name), []byte("#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread server\n"+script), 0o755)
	}
	helper("ecr-login", `[ "$server" = 123456789012.dkr.ecr.us-east-1.amazonaws.com ] || { echo "credentials not found in native keychain"; exit 1; }
echo '{"ServerURL":"'$server'","Username":"AWS","Secret":"from-helper"}'`)
	helper("store", `case "$server" in
https://index.docker.io/v1/) echo '{"ServerURL":"'$server'","Username":"<token>","Secret":"identity"}';;
broken.example) echo "the keychain is locked" >&2; exit 1;;
*) echo "credentials not found in native keychain"; exit 1;;
esac`)
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))

	auth := func(user, pass string) string { return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)) }
	config := func(doc string) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "config.json"), []byte(doc), 0o600)
		return dir
	}
	stored := config(`{"auths": {
		"123456789012.dkr.ecr.us-east-1.amazonaws.com": {"auth": "` + auth("AWS", "token") + `"},
		"https://index.docker.io/v1/": {"auth": "` + auth("me", "secret") + `"}}}`)
	helpers := config(`{"credsStore": "store", "credHelpers": {"123456789012.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"},
		"auths": {"ghcr.io": {"auth": "` + auth("gh", "pat") + `"}}}`)
	const ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-model:1"
	for _, c := range []struct {
		what, dir, image string
		want             registry.AuthConfig
		err              string
	}{
		{what: "ECR, stored", dir: stored, image: ecr, want: registry.AuthConfig{Username: "AWS", Password: "token"}},
		{what: "Docker Hub, stored", dir: stored, image: "me/model", want: registry.AuthConfig{Username: "me", Password: "secret"}},
		{what: "another registry", dir: stored, image: "ghcr.io/other/model"},
		{what: "no configuration", dir: t.TempDir(), image: "me/model"},
		{what: "ECR, its helper", dir: helpers, image: ecr, want: registry.AuthConfig{Username: "AWS", Password: "from-helper"}},
		{what: "Docker Hub, the store's identity token", dir: helpers, image: "me/model", want: registry.AuthConfig{IdentityToken: "identity"}},
		{what: "nothing in the store: auths", dir: helpers, image: "ghcr.io/other/model", want: registry.AuthConfig{Username: "gh", Password: "pat"}},
		{what: "a failing helper", dir: helpers, image: "broken.example/model", err: "the keychain is locked"},
		{what: "a helper not installed", dir: config(`{"credsStore": "absent"}`), image: "me/model", err: "docker-credential-absent"},
	} {
		enc, err := registryAuth(context.Background(), c.dir, c.image)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: %q, %v; want an error saying %q", c.what, enc, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.what, err)
			continue
		}
		var got registry.AuthConfig
		if enc != "" {
			b, err := base64.URLEncoding.DecodeString(enc)
			if err != nil {
				t.Fatalf("%s: %q: %v", c.what, enc, err)
			}
			json.Unmarshal(b, &got)
			got.ServerAddress = ""
		}
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.what, got, c.want)
		}
	}
}
