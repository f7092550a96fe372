package catalog

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/printable"
)

// maxCatalog bounds what Fetch reads.
const maxCatalog = 16 << 20

// Fetch reads the signed catalog at location: an https URL, fetched with
// client (nil for http.DefaultClient), or a file (a path or a file://
// URL). It does not verify it: Open does. A failure of the network or the
// server matches ErrUnreachable; a server whose certificate this machine
// does not trust, ErrUntrustedServer; a location that holds no catalog,
// ErrMissing; a catalog over 16 MB, or a redirect to other than https,
// ErrBadCatalog.
func Fetch(ctx context.Context, client *http.Client, location string) ([]byte, error) {
	u, err := url.Parse(location)
	switch {
	case err != nil:
		return nil, fmt.Errorf("catalog location %q: %w", location, err)
	case u.Scheme == "file":
		return readFile(fileURLPath(u.Path))
	case u.Scheme == "" && strings.HasPrefix(location, "/") || len(location) > 2 && location[1] == ':':
		return readFile(location)
	case u.Scheme != "https":
		return nil, fmt.Errorf("catalog location %q: want an https URL or a file", location)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if r.URL.Scheme != "https" || len(via) >= 10 {
			return fmt.Errorf("%w: it redirects to %s: want https, and at most 10 redirects", ErrBadCatalog, r.URL)
		}
		return nil
	}
	resp, err := c.Do(req)
	switch {
	case errors.Is(err, ErrBadCatalog): // a redirect refused
		return nil, err
	case untrustedCertificate(err):
		return nil, fmt.Errorf("%w: %s: %w; if the server is the vendor's, this machine must trust its certificate: add it, or the authority that signed it, to the system's certificates (or, on Linux and BSD, name a file of them with SSL_CERT_FILE or a directory with SSL_CERT_DIR)",
			ErrUntrustedServer, location, err)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	defer resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 500 || s == http.StatusTooManyRequests || s == http.StatusRequestTimeout:
		return nil, fmt.Errorf("%w: %s answers %s", ErrUnreachable, location, printable.String(resp.Status))
	case s != http.StatusOK:
		return nil, fmt.Errorf("%w: %s answers %s", ErrMissing, location, printable.String(resp.Status))
	}
	data, err := readLimited(resp.Body)
	if err != nil && !errors.Is(err, ErrBadCatalog) {
		err = fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	return data, err
}

// untrustedCertificate reports whether err is the failure of a TLS
// server's certificate to verify: signed by an authority this machine
// does not trust (self-signed), for another name, or expired.
func untrustedCertificate(err error) bool {
	var (
		verify    *tls.CertificateVerificationError
		authority x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &authority) || errors.As(err, &hostname) || errors.As(err, &invalid)
}

func readFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMissing, err)
	}
	defer f.Close()
	data, err := readLimited(f)
	if err != nil && !errors.Is(err, ErrBadCatalog) {
		err = fmt.Errorf("%w: %w", ErrMissing, err)
	}
	return data, err
}

func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCatalog+1))
	if err != nil {
		return nil, fmt.Errorf("reading the catalog: %w", err)
	}
	if len(data) > maxCatalog {
		return nil, fmt.Errorf("%w: it is larger than %d MB", ErrBadCatalog, maxCatalog>>20)
	}
	return data, nil
}

// fileURLPath returns the file a file:// URL's path names: on Windows,
// "/C:/x" is C:/x.
func fileURLPath(p string) string {
	if len(p) > 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:]
	}
	return filepath.FromSlash(p)
}
