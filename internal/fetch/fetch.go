// Package fetch gets a file that a vendor publishes, such as a signed
// catalog or a bundle file, from an https URL or a local file, and says
// why it could not: the network, the server's trust, or a wrong location.
package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/printable"
)

// The kinds of failure an *Error matches.
var (
	// ErrUnreachable: the network or the server failed (no connection, a
	// timeout, a 5xx or 429 answer); trying again later may work.
	ErrUnreachable = errors.New("unreachable")
	// ErrMissing: the location holds nothing (no such file, a 404 or
	// another client error).
	ErrMissing = errors.New("missing")
	// ErrUntrusted: this machine does not trust the https server's
	// certificate.
	ErrUntrusted = errors.New("untrusted server")
	// ErrRedirect: the server redirects to a URL that is not https, or
	// more than 10 times.
	ErrRedirect = errors.New("redirect refused")
	// ErrLocation: the location is not an https URL or a file.
	ErrLocation = errors.New("not a location")
	// ErrOffline: the install may not use the network, which the fetch
	// needs.
	ErrOffline = errors.New("this install may not use the network (GOPROXY=off)")
	// ErrMismatch: what was fetched is not what the program pins by hash.
	ErrMismatch = errors.New("not what the program pins")
)

// NeedsNetwork reports whether err is a failure to fetch for want of the
// network: the install may not use it, or the server or the network failed.
func NeedsNetwork(err error) bool {
	return errors.Is(err, ErrOffline) || errors.Is(err, ErrUnreachable)
}

// Error is a failed fetch. It matches its Kind, one of the errors above,
// and says what happened at Location.
type Error struct {
	Kind     error
	Location string
	Err      error
}

func (e *Error) Error() string { return e.Err.Error() }

// Is reports whether target is the kind of failure.
func (e *Error) Is(target error) bool { return target == e.Kind }

func (e *Error) Unwrap() error { return e.Err }

// Open opens the file at location: an https URL, fetched with client (nil
// for http.DefaultClient) and following at most 10 redirects, all to
// https, or a file (a path, or a file:// URL). The caller closes it, and
// bounds what it reads and how long it takes (ctx).
func Open(ctx context.Context, client *http.Client, location string) (io.ReadCloser, error) {
	fail := func(kind error, format string, args ...any) error {
		return &Error{Kind: kind, Location: location, Err: fmt.Errorf(format, args...)}
	}
	file, err := CheckLocation(location)
	switch {
	case err != nil:
		return nil, &Error{Kind: ErrLocation, Location: location, Err: err}
	case file != "":
		return openFile(location, file)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
	if err != nil {
		return nil, fail(ErrLocation, "location %q: %w", location, err)
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	var redirect error
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if r.URL.Scheme != "https" || len(via) >= 10 {
			redirect = fail(ErrRedirect, "%s redirects to %s: want https, and at most 10 redirects", location, r.URL)
			return redirect
		}
		return nil
	}
	resp, err := c.Do(req)
	switch {
	case redirect != nil:
		return nil, redirect
	case untrustedCertificate(err):
		return nil, fail(ErrUntrusted, "%s: %w; if the server is the vendor's, this machine must trust its certificate: add it, or the authority that signed it, to the system's certificates (or, on Linux and BSD, name a file of them with SSL_CERT_FILE or a directory with SSL_CERT_DIR)", location, err)
	case err != nil:
		return nil, fail(ErrUnreachable, "%w", err)
	}
	switch s := resp.StatusCode; {
	case s == http.StatusOK:
		return &body{resp.Body, location, ErrUnreachable}, nil
	case s >= 500 || s == http.StatusTooManyRequests || s == http.StatusRequestTimeout:
		resp.Body.Close()
		return nil, fail(ErrUnreachable, "%s answers %s", location, printable.String(resp.Status))
	default:
		resp.Body.Close()
		return nil, fail(ErrMissing, "%s answers %s", location, printable.String(resp.Status))
	}
}

// CheckLocation checks that Open takes location: an https URL, a file://
// URL of this machine (no host, or localhost), or an absolute path (on
// Windows, with a drive letter). For a file, it returns its path.
func CheckLocation(location string) (file string, err error) {
	u, err := url.Parse(location)
	switch {
	case err != nil:
		return "", fmt.Errorf("location %q: %w", location, err)
	case u.Scheme == "file" && (u.Host == "" || u.Host == "localhost"):
		return fileURLPath(u.Path), nil
	case u.Scheme == "file":
		return "", fmt.Errorf("location %q: a file:// URL names a file of this machine (no host): mount the share and name the path", location)
	case u.Scheme == "" && strings.HasPrefix(location, "/") || len(location) > 2 && location[1] == ':' && (location[2] == '/' || location[2] == '\\'):
		return location, nil
	case u.Scheme != "https":
		return "", fmt.Errorf("location %q: want an https URL or a file", location)
	}
	return "", nil
}

// body is what Open returns: its read errors are an *Error of kind (the
// network's, for a response's body).
type body struct {
	io.ReadCloser
	location string
	kind     error
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &Error{Kind: b.kind, Location: b.location, Err: fmt.Errorf("reading %s: %w", b.location, err)}
	}
	return n, err
}

// openFile opens a regular file, without blocking on anything else (a
// FIFO planted at the location).
func openFile(location, name string) (io.ReadCloser, error) {
	f, err := fsutil.OpenRegular(name)
	if err != nil {
		return nil, &Error{Kind: ErrMissing, Location: location, Err: err}
	}
	return &body{f, location, ErrMissing}, nil
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

// fileURLPath returns the file a file:// URL's path names: on Windows,
// "/C:/x" is C:/x.
func fileURLPath(p string) string {
	if len(p) > 3 && p[0] == '/' && p[2] == ':' {
		p = p[1:]
	}
	return filepath.FromSlash(p)
}

// progressEvery is how often a Progress reader says how far it is.
const progressEvery = 5 * time.Second

// Progress returns a reader of r that says, through logf every 5 s, how
// much of want bytes it has read (0 for a size it does not know); logf nil
// says nothing.
func Progress(r io.Reader, want int64, logf func(format string, args ...any)) io.Reader {
	return &progressReader{r: r, want: want, last: time.Now(), logf: logf}
}

type progressReader struct {
	r       io.Reader
	n, want int64
	last    time.Time
	logf    func(format string, args ...any)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.logf != nil && time.Since(p.last) >= progressEvery {
		p.last = time.Now()
		if p.want > 0 {
			p.logf("Fetched %.1f of %.1f MB", float64(p.n)/1e6, float64(p.want)/1e6)
		} else {
			p.logf("Fetched %.1f MB", float64(p.n)/1e6)
		}
	}
	return n, err
}
