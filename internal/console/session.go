package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// cookieName is the session cookie.
const cookieName = "ebb_console"

// sessionLength is how long a sign-in lasts, in real time.
const sessionLength = 12 * time.Hour

// A session cookie is "<access key, base64url>.<expiry, unix seconds>.<mac>",
// the MAC an HMAC-SHA256 of the first two parts under a key derived from
// the access key's secret. Nothing is kept on the server: a session lasts
// across restarts and replicas, and ends when it expires or the secret
// changes. (Signing out clears the cookie; a copied cookie stays valid
// until it expires.)
func sessionKey(secret string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("ebb console session v1"))
	return m.Sum(nil)
}

func (h *Handler) sessionCookie(accessKey, secret string, expires time.Time) string {
	payload := base64.RawURLEncoding.EncodeToString([]byte(accessKey)) + "." + strconv.FormatInt(expires.Unix(), 10)
	m := hmac.New(sha256.New, sessionKey(secret))
	m.Write([]byte(payload))
	return payload + "." + hex.EncodeToString(m.Sum(nil))
}

// session returns the access key the request's session cookie was signed
// in with, if the cookie is valid.
func (h *Handler) session(r *http.Request) (string, bool) {
	c, err := r.Cookie(cookieName)
	if err != nil || h.o.Credentials == nil {
		return "", false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return "", false
	}
	key, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return "", false
	}
	secret, ok := h.o.Credentials[string(key)]
	if !ok {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || h.o.Wall.Now().Unix() >= exp {
		return "", false
	}
	want := h.sessionCookie(string(key), secret, time.Unix(exp, 0))
	if subtle.ConstantTimeCompare([]byte(want), []byte(c.Value)) != 1 {
		return "", false
	}
	return string(key), true
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, "login", "Sign in", map[string]any{"Next": safeNext(r.URL.Query().Get("next")), "Open": h.o.Credentials == nil})
}

// login checks an access key and its secret (in constant time) and sets
// the session cookie: HttpOnly, SameSite=Strict, for the console's path.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "The sign-in form could not be read.", http.StatusBadRequest)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	key, given := strings.TrimSpace(r.PostForm.Get("access_key")), r.PostForm.Get("secret_key")
	secret, known := h.o.Credentials[key]
	if h.o.Credentials == nil || !known || subtle.ConstantTimeCompare([]byte(secret), []byte(given)) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		h.render(w, r, "login", "Sign in", map[string]any{"Next": next, "Failed": true, "Open": h.o.Credentials == nil})
		return
	}
	expires := h.o.Wall.Now().Add(sessionLength)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: h.sessionCookie(key, secret, expires), Path: Prefix,
		Expires: expires, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// safeNext keeps a sign-in's redirect on the console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Prefix) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return Prefix
	}
	return next
}
