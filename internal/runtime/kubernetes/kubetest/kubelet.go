package kubetest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The node side of the cluster, which kwok's nodes lack, served over TLS
// from one address (every node's, as kwok reports it):
//   - the kubelet's log endpoint: the API server proxies `kubectl logs`
//     (the pods/log subresource) to
//     https://NODE-IP:NODE-PORT/containerLogs/NS/POD/CONTAINER, and the
//     harness answers it from the files its pod processes write, stamped
//     line by line as a container runtime stamps them (stampWriter);
//   - while a test asks for it (ServeMetrics), metrics-server's
//     metrics.k8s.io API, which the API server's aggregator proxies here.

// kubelet serves the node side for the pods of cluster c, whose files are
// in dir; ca is the certificate the API server trusts it by.
type kubelet struct {
	dir  string
	c    *Cluster
	srv  *http.Server
	addr *net.TCPAddr
	ca   string // PEM file
}

func startKubelet(dir string, c *Cluster) (*kubelet, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubetest-kubelet"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	ca := filepath.Join(dir, "kubelet-ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o644); err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		return nil, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		return nil, err
	}
	k := &kubelet{dir: dir, c: c, addr: ln.Addr().(*net.TCPAddr), ca: ca}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", k.containerLogs)
	mux.HandleFunc("GET /apis/metrics.k8s.io/v1beta1", c.metricsResources)
	mux.HandleFunc("GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods/{pod}", c.podMetrics)
	mux.HandleFunc("GET /apis/metrics.k8s.io/v1beta1/namespaces/{ns}/pods", c.podMetricsList)
	k.srv = &http.Server{Handler: mux}
	go k.srv.Serve(ln)
	return k, nil
}

// containerLogs answers as a kubelet does: the lines of the pod's model
// container, since sinceTime, with their timestamps if asked, following
// new ones until the client goes.
func (k *kubelet) containerLogs(w http.ResponseWriter, r *http.Request) {
	f, err := os.Open(filepath.Join(k.dir, containerLog(r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"))))
	if err != nil {
		http.Error(w, "container not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	q := r.URL.Query()
	var since time.Time
	if s := q.Get("sinceTime"); s != "" {
		since, _ = time.Parse(time.RFC3339, s)
	}
	stamps, follow := q.Get("timestamps") == "true", q.Get("follow") == "true"
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	br := bufio.NewReader(f)
	var partial string
	for {
		line, err := br.ReadString('\n')
		partial += line
		if err == io.EOF {
			if !follow {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond): // a kubelet follows the file the same way
			}
			continue
		}
		if err != nil {
			return
		}
		stamp, text, _ := strings.Cut(partial, " ")
		partial = ""
		if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil && t.Before(since) {
			continue
		}
		if stamps {
			io.WriteString(w, stamp+" ")
		}
		io.WriteString(w, text)
	}
}

func (k *kubelet) stop() { k.srv.Close() }

// stampWriter writes each line with the time it was written in front, as
// a container runtime keeps a container's output.
type stampWriter struct {
	mu   sync.Mutex
	w    io.Writer
	open bool // a line was begun and not ended
}

func (s *stampWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		if !s.open {
			if _, err := io.WriteString(s.w, time.Now().UTC().Format(time.RFC3339Nano)+" "); err != nil {
				return 0, err
			}
			s.open = true
		}
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk, s.open = p[:i+1], false
		}
		if _, err := s.w.Write(chunk); err != nil {
			return 0, err
		}
		p = p[len(chunk):]
	}
	return n, nil
}
