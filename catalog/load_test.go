package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// server serves what answer returns, over TLS, and counts the requests.
type server struct {
	*httptest.Server
	answer   atomic.Value // func(http.ResponseWriter)
	requests atomic.Int32
}

func newServer(t *testing.T) *server {
	s := &server{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.answer.Load().(func(http.ResponseWriter))(w)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(body []byte) {
	s.answer.Store(func(w http.ResponseWriter) { w.Write(body) })
}

func (s *server) fail(status int) {
	s.answer.Store(func(w http.ResponseWriter) { http.Error(w, http.StatusText(status), status) })
}

// seqOf is the sequence number of a catalog Load returned, 0 for none.
func seqOf(c *Catalog) int64 {
	if c == nil {
		return 0
	}
	return c.Sequence
}

func signed(t *testing.T, signer string, seq int64, more ...string) []byte {
	t.Helper()
	raw, err := Sign(testCatalog(seq), append([]string{signer}, more...)...)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Load takes the newest verified catalog of the embedded one, the one
// this machine kept and the fetched one, keeps it, and refuses a fetched
// one older than what the machine has seen.
func TestLoadNewest(t *testing.T) {
	signer, verifier, _ := GenerateKey("example.com/mytool")
	srv := newServer(t)
	dir := t.TempDir()
	cfg := &Config{Name: "example.com/mytool", Keys: []string{verifier}, URL: srv.URL + "/catalog", Embedded: signed(t, signer, 1), Client: srv.Client()}
	load := func(offline bool) (*Catalog, error) {
		return Load(context.Background(), cfg, dir, offline, t.Logf)
	}
	srv.serve(signed(t, signer, 3))
	if c, err := load(false); err != nil || c.Sequence != 3 {
		t.Fatalf("with catalogs 1 (embedded) and 3 (served): %v, %v; want 3", c, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "example.com_mytool.note")); err != nil {
		t.Errorf("the newest catalog was not kept: %v", err)
	}
	srv.serve(signed(t, signer, 2))
	if _, err := load(false); !errors.Is(err, ErrBadCatalog) || !strings.Contains(err.Error(), "rollback") {
		t.Errorf("served 2 after 3: %v; want ErrBadCatalog, a rollback", err)
	}
	n := srv.requests.Load()
	if c, err := load(true); err != nil || c.Sequence != 3 || srv.requests.Load() != n {
		t.Errorf("offline: %v, %v, %d requests; want the kept 3, no request", c, err, srv.requests.Load()-n)
	}
}

// A catalog that cannot be fetched matches the error of its real cause:
// the network or the server (ErrUnreachable), a location that holds
// none (ErrMissing), or one that cannot be trusted (ErrBadCatalog); with
// a catalog at hand, the install goes on with it.
func TestLoadFailures(t *testing.T) {
	signer, verifier, _ := GenerateKey("example.com/mytool")
	srv := newServer(t)
	closed := httptest.NewTLSServer(http.NotFoundHandler())
	closed.Close()
	for _, c := range []struct {
		name  string
		url   string
		setup func()
		want  error
	}{
		{"404", srv.URL, func() { srv.fail(http.StatusNotFound) }, ErrMissing},
		{"403", srv.URL, func() { srv.fail(http.StatusForbidden) }, ErrMissing},
		{"503", srv.URL, func() { srv.fail(http.StatusServiceUnavailable) }, ErrUnreachable},
		{"no server", closed.URL, nil, ErrUnreachable},
		{"no file", filepath.Join(t.TempDir(), "catalog.note"), nil, ErrMissing},
		{"a directory", t.TempDir(), nil, ErrMissing},
		{"too large", srv.URL, func() { srv.serve(make([]byte, maxCatalog+1)) }, ErrBadCatalog},
		{"unsigned", srv.URL, func() { srv.serve([]byte("{}\n")) }, ErrBadCatalog},
		{"redirect to http", srv.URL, func() {
			srv.answer.Store(func(w http.ResponseWriter) {
				w.Header().Set("Location", strings.Replace(closed.URL, "https:", "http:", 1))
				w.WriteHeader(http.StatusFound)
			})
		}, ErrBadCatalog},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.setup != nil {
				c.setup()
			}
			cfg := &Config{Name: "example.com/mytool", Keys: []string{verifier}, URL: c.url, Client: srv.Client()}
			_, err := Load(context.Background(), cfg, t.TempDir(), false, t.Logf)
			for _, e := range []error{ErrUnreachable, ErrMissing, ErrBadCatalog} {
				if errors.Is(err, e) != (e == c.want) {
					t.Errorf("%v: matches %q: %v, want %v", err, e, errors.Is(err, e), e == c.want)
				}
			}
			if c.want == ErrBadCatalog {
				return
			}
			cfg.Embedded = signed(t, signer, 1)
			var logged string
			got, err := Load(context.Background(), cfg, t.TempDir(), false, func(f string, a ...any) { logged += f })
			if err != nil || got.Sequence != 1 || !strings.Contains(logged, "Using the catalog") {
				t.Errorf("with the embedded catalog: %v, %v, logged %q; want it used, and said", got, err, logged)
			}
		})
	}
}

// A program's malformed keys match ErrBadCatalog, and a signer key given
// as a verifier is refused without being repeated.
func TestLoadBadKeys(t *testing.T) {
	signer, _, _ := GenerateKey("example.com/mytool")
	for _, key := range []string{"nonsense", signer} {
		cfg := &Config{Name: "example.com/mytool", Keys: []string{key}, Embedded: signed(t, signer, 1)}
		_, err := Load(context.Background(), cfg, t.TempDir(), true, t.Logf)
		if !errors.Is(err, ErrBadCatalog) || strings.Contains(err.Error(), signer) {
			t.Errorf("key %.12s…: %v; want ErrBadCatalog, without the key", key, err)
		}
	}
}

// Two programs share this machine's record of a catalog: one carries the
// keys {k1, k2} of a rotation, the other only k1. What one has verified
// the other never lowers: a catalog it cannot verify is left as it is,
// an older one it can is refused as a rollback, and its own embedded
// catalog is used without replacing the newer one kept.
func TestLoadRecordTwoKeySets(t *testing.T) {
	s1, v1, _ := GenerateKey("example.com/mytool")
	s2, v2, _ := GenerateKey("example.com/mytool")
	srv := newServer(t)
	dir := t.TempDir()
	note := filepath.Join(dir, "example.com_mytool.note")
	load := func(keys []string, url string, embedded []byte, offline bool) (*Catalog, string, error) {
		var logged strings.Builder
		cfg := &Config{Name: "example.com/mytool", Keys: keys, URL: url, Embedded: embedded, Client: srv.Client()}
		c, err := Load(context.Background(), cfg, dir, offline, func(f string, a ...any) { fmt.Fprintf(&logged, f+"\n", a...) })
		return c, logged.String(), err
	}
	both, old := []string{v1, v2}, []string{v1}

	srv.serve(signed(t, s2, 10))
	if c, _, err := load(both, srv.URL, nil, false); err != nil || c.Sequence != 10 {
		t.Fatalf("the program with both keys, served 10: %d, %v", seqOf(c), err)
	}
	kept, _ := os.ReadFile(note)

	// The program with k1 alone, served an older catalog it verifies.
	srv.serve(signed(t, s1, 5))
	if _, logged, err := load(old, srv.URL, nil, false); !errors.Is(err, ErrBadCatalog) || !strings.Contains(err.Error(), "rollback") || !strings.Contains(logged, "cannot verify") {
		t.Errorf("the program with k1, served 5 after 10: %v (logged %q); want a rollback refused", err, logged)
	}
	// The same with no location: its embedded catalog, used, not kept.
	if c, logged, err := load(old, "", signed(t, s1, 1), true); err != nil || c.Sequence != 1 || !strings.Contains(logged, "has verified sequence 10") {
		t.Errorf("the program with k1 and its embedded 1: %d, %v (logged %q); want 1, and said", seqOf(c), err, logged)
	}
	if now, _ := os.ReadFile(note); !bytes.Equal(now, kept) {
		t.Errorf("the program with k1 replaced the catalog kept, which it cannot verify: %.60q…", now)
	}

	// The program with both keys still has 10, and refuses 5.
	if c, _, err := load(both, srv.URL, nil, true); err != nil || c.Sequence != 10 {
		t.Errorf("the program with both keys, offline: %d, %v; want the kept 10", seqOf(c), err)
	}
	if c, _, err := load(both, srv.URL, nil, false); !errors.Is(err, ErrBadCatalog) || !strings.Contains(err.Error(), "rollback") {
		t.Errorf("the program with both keys, served 5: %d, %v; want a rollback refused", seqOf(c), err)
	}

	// A newer catalog signed by both replaces 10 for both programs.
	srv.serve(signed(t, s1, 11, s2))
	for _, keys := range [][]string{old, both} {
		if c, _, err := load(keys, srv.URL, nil, false); err != nil || c.Sequence != 11 {
			t.Errorf("%d keys, served 11: %d, %v", len(keys), seqOf(c), err)
		}
	}
	if c, _, err := load(old, "", nil, true); err != nil || c.Sequence != 11 {
		t.Errorf("the program with k1, offline: %d, %v; want the kept 11", seqOf(c), err)
	}
}

// A server whose certificate this machine does not trust (here,
// self-signed) is named as such, with how to trust it: the network is
// there. With a catalog at hand, the install goes on with it, and says so.
func TestLoadUntrustedServer(t *testing.T) {
	signer, verifier, _ := GenerateKey("example.com/mytool")
	srv := newServer(t)
	srv.serve(signed(t, signer, 2))
	cfg := &Config{Name: "example.com/mytool", Keys: []string{verifier}, URL: srv.URL, Client: &http.Client{}}
	_, err := Load(context.Background(), cfg, t.TempDir(), false, t.Logf)
	if !errors.Is(err, ErrUntrustedServer) || errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "x509: certificate signed by unknown authority") || !strings.Contains(err.Error(), "SSL_CERT_FILE") {
		t.Errorf("an untrusted server: %v; want ErrUntrustedServer, not ErrUnreachable, naming the x509 failure and SSL_CERT_FILE", err)
	}
	if srv.requests.Load() != 0 {
		t.Errorf("%d requests reached the server; the handshake should have failed", srv.requests.Load())
	}
	cfg.Embedded = signed(t, signer, 1)
	var logged string
	if c, err := Load(context.Background(), cfg, t.TempDir(), false, func(f string, a ...any) { logged += fmt.Sprintf(f, a...) }); err != nil || c.Sequence != 1 || !strings.Contains(logged, "SSL_CERT_FILE") {
		t.Errorf("with the embedded catalog: %v, %v, logged %q; want it used, and the certificate named", c, err, logged)
	}
}

// A server's status text reaches messages with its control characters
// escaped: an OSC title change and a colour do not reach the terminal.
func TestFetchStatusEscaped(t *testing.T) {
	srv := newServer(t)
	srv.answer.Store(func(w http.ResponseWriter) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		buf.WriteString("HTTP/1.1 404 \x1b]0;pwned\x07\x1b[31mNot Found\x1b[0m\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		buf.Flush()
	})
	_, err := Fetch(context.Background(), srv.Client(), srv.URL)
	if !errors.Is(err, ErrMissing) || strings.ContainsAny(err.Error(), "\x1b\x07") || !strings.Contains(err.Error(), `404 \x1b]0;pwned\a\x1b[31mNot Found`) {
		t.Errorf("a status with escapes: %q; want ErrMissing, the escapes shown escaped", err)
	}
}
