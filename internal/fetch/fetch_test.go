package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Each way a fetch fails matches its kind, and only that one; a good
// location gives its bytes.
func TestOpen(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "published") })
	mux.HandleFunc("/gone", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusNotFound) })
	mux.HandleFunc("/busy", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "later", http.StatusServiceUnavailable) })
	mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+r.Host+"/ok", http.StatusFound)
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, []byte("published"), 0o644)

	kinds := []error{ErrUnreachable, ErrMissing, ErrUntrusted, ErrRedirect, ErrLocation}
	for _, c := range []struct {
		location string
		client   *http.Client
		want     error // nil: the content
	}{
		{srv.URL + "/ok", srv.Client(), nil},
		{file, nil, nil},
		{"file://" + filepath.ToSlash(file), nil, nil},
		{srv.URL + "/gone", srv.Client(), ErrMissing},
		{srv.URL + "/busy", srv.Client(), ErrUnreachable},
		{srv.URL + "/plain", srv.Client(), ErrRedirect},
		{srv.URL + "/ok", nil, ErrUntrusted}, // this machine does not trust the test server
		{file + ".missing", nil, ErrMissing},
		{"http://example.com/x", nil, ErrLocation},
		{"ftp://example.com/x", nil, ErrLocation},
		{"file://fileserver/share/x", nil, ErrLocation}, // not this machine's
		{"file://localhost" + filepath.ToSlash(file), nil, nil},
	} {
		r, err := Open(context.Background(), c.client, c.location)
		if c.want == nil {
			if err != nil {
				t.Errorf("%s: %v", c.location, err)
				continue
			}
			data, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(data) != "published" {
				t.Errorf("%s: %q, %v", c.location, data, err)
			}
			continue
		}
		if err == nil {
			r.Close()
			t.Errorf("%s: no error, want %v", c.location, c.want)
			continue
		}
		for _, k := range kinds {
			if errors.Is(err, k) != (k == c.want) {
				t.Errorf("%s: %v; errors.Is(%v) = %v", c.location, err, k, errors.Is(err, k))
			}
		}
		if c.want == ErrUntrusted && !strings.Contains(err.Error(), "SSL_CERT_FILE") {
			t.Errorf("an untrusted server: %v; want what to do named", err)
		}
	}
}

// A server that fails in the middle of the body gives a read error of
// the network's kind.
func TestBodyError(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
	}))
	defer srv.Close()
	r, err := Open(context.Background(), srv.Client(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = io.ReadAll(r)
	if !errors.Is(err, ErrUnreachable) || errors.Is(err, ErrMissing) {
		t.Fatalf("a cut body: %v, want ErrUnreachable", err)
	}
}

// A fetch that lasts says how far it is.
func TestProgress(t *testing.T) {
	for _, want := range []int64{3 << 20, 0} {
		var logged []string
		p := &progressReader{r: strings.NewReader(strings.Repeat("x", 3<<20)), want: want, last: time.Now().Add(-time.Minute),
			logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }}
		if _, err := io.Copy(io.Discard, p); err != nil {
			t.Fatal(err)
		}
		ok := len(logged) == 1 && strings.HasPrefix(logged[0], "Fetched ")
		if want == 0 {
			ok = ok && strings.HasSuffix(logged[0], " MB") && !strings.Contains(logged[0], " of ")
		} else {
			ok = ok && strings.HasSuffix(logged[0], " of 3.1 MB")
		}
		if !ok {
			t.Fatalf("progress of %d bytes: %q, want one line, then none before %v", want, logged, progressEvery)
		}
	}
}
