package toolchain

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fetch"
	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// Error is a pinned toolchain that could not be fetched, or that is not
// the pinned one. It matches its cause: fetch.ErrMismatch for a zip that
// hashes to another h1: hash or does not prune to the pinned tree, or
// another fetch error (fetch.ErrOffline, fetch.ErrUnreachable,
// fetch.ErrMissing, ...).
type Error struct {
	Module string // "golang.org/toolchain@VERSION"
	Proxy  string // the GOPROXY list it was fetched through
	Reason string
	Err    error
}

func (e *Error) Error() string {
	todo := "run it again where GOPROXY names a module proxy (https, or a file:// URL) that serves golang.org/toolchain, as proxy.golang.org does"
	if errors.Is(e.Err, fetch.ErrMismatch) {
		todo = "a proxy in GOPROXY served another file than the genuine module: set GOPROXY to one that serves the genuine module, as proxy.golang.org does"
	}
	return fmt.Sprintf("the Go toolchain %s, which this program fetches through the module proxy (GOPROXY=%s) instead of carrying it, %s; nothing entered the cache and the program is unchanged: %s", e.Module, e.Proxy, e.Reason, todo)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// DefaultProxy is the go command's GOPROXY when the user sets none.
const DefaultProxy = "https://proxy.golang.org,direct"

// Options say where Fetch gets a toolchain, and for what platform it
// prunes it.
type Options struct {
	Proxy        string // the user's GOPROXY; "" for DefaultProxy
	GOOS, GOARCH string
	Logf         func(format string, args ...any) // nil for none
}

// fetchTimeout bounds the fetch of a toolchain, and maxZip its size (the
// module zip limit of golang.org/x/mod/zip).
const (
	fetchTimeout = 15 * time.Minute
	maxZip       = modzip.MaxZipFile
)

// Fetch fills dir, an empty directory, with the toolchain that m pins: its
// module zip fetched from the first proxy of o.Proxy that serves it (https
// or file entries; "direct" is skipped, since toolchains come from
// proxies, and "off" ends the list), checked against m.Sum whatever
// GOSUMDB, GONOSUMDB, GOINSECURE or GOFLAGS say, unpacked, and pruned as
// the generator pruned it; the tree must then be m.Part.
func Fetch(ctx context.Context, m *bundle.ToolchainModule, dir string, o Options) error {
	mv := module.Version{Path: bundle.ToolchainPath, Version: m.Version}
	fail := func(err error, format string, args ...any) error {
		return &Error{Module: mv.String(), Proxy: Redacted(cmp.Or(o.Proxy, DefaultProxy)), Reason: fmt.Sprintf(format, args...), Err: err}
	}
	zipFile := filepath.Join(dir, ".module.zip")
	if err := download(ctx, mv, zipFile, o); err != nil {
		return fail(err, "could not be fetched: %v", err)
	}
	// CheckZip bounds what hashing it decompresses: a module zip's limits.
	if _, err := modzip.CheckZip(mv, zipFile); err != nil {
		return fail(fetch.ErrMismatch, "was served as a file that is not a valid module zip (%v), so not the %s the program pins", err, m.Sum)
	}
	sum, err := dirhash.HashZip(zipFile, dirhash.Hash1)
	if err != nil {
		return fail(fetch.ErrMismatch, "was served as a file that is not a module zip (%v), so not the %s the program pins", err, m.Sum)
	}
	if sum != m.Sum {
		return fail(fetch.ErrMismatch, "was served with the hash %s, not the %s the program pins: a proxy served another file", sum, m.Sum)
	}
	unpacked := filepath.Join(dir, ".module")
	if err := modzip.Unzip(unpacked, mv, zipFile); err != nil {
		return fail(err, "could not be unpacked: %v", err)
	}
	files, err := Prune(unpacked, o.GOOS, o.GOARCH, m.Boring)
	if err != nil {
		return fail(err, "could not be pruned: %v", err)
	}
	if err := place(files, dir); err != nil {
		return fail(err, "could not be laid out in %s: %v", dir, err)
	}
	// What the pruning left out must go: the tree is checked file by file.
	if err := errors.Join(os.Remove(zipFile), os.RemoveAll(unpacked)); err != nil {
		return fail(err, "could not be cleaned up in %s: %v", dir, err)
	}
	got, err := bundle.DigestPart(bundle.PartFiles{Name: bundle.PartToolchain, Files: files})
	if err != nil {
		return fail(err, "could not be read once laid out in %s: %v", dir, err)
	}
	if got.Digest != m.Part.Digest || got.Files != m.Part.Files {
		return fail(fetch.ErrMismatch, "pruned to %d files with the digest %.12s, not the %d files with %.12s the program pins", got.Files, got.Digest, m.Part.Files, m.Part.Digest)
	}
	return nil
}

// place moves the pruned files into dir under their names, executable or
// not as they say, and points their Src there.
func place(files []bundle.File, dir string) error {
	for i, f := range files {
		dst := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Rename(f.Src, dst); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if f.Exec {
			mode = 0o755
		}
		if err := os.Chmod(dst, mode); err != nil {
			return err
		}
		files[i].Src = dst
	}
	return nil
}

// download fetches the zip of mv to file from the proxies of o.Proxy in
// turn: past one that lacks it (a "," after it) or that fails in any way
// (a "|"), as the go command does.
func download(ctx context.Context, mv module.Version, file string, o Options) error {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	var errs []error
	for _, p := range proxies(cmp.Or(o.Proxy, DefaultProxy)) {
		switch p.url {
		case "direct", "noproxy":
			continue
		case "off":
			errs = append(errs, fetch.ErrOffline)
			return errors.Join(errs...)
		}
		err := get(ctx, strings.TrimSuffix(p.url, "/")+"/"+mv.Path+"/@v/"+mv.Version+".zip", file, o.Logf)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		// A proxy this cannot use (plain http) is passed over, as one that
		// lacks the file.
		if !p.anyError && !errors.Is(err, fetch.ErrMissing) && !errors.Is(err, fetch.ErrLocation) {
			break
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("%w: GOPROXY names no module proxy, and toolchains come from one", fetch.ErrMissing)
	}
	return errors.Join(errs...)
}

// proxy is an entry of a GOPROXY list, and whether the list goes on past
// it after any error ("|") or only when it lacks the file (",").
type proxy struct {
	url      string
	anyError bool
}

// proxies parses a GOPROXY list.
func proxies(list string) []proxy {
	var out []proxy
	for list != "" {
		i := strings.IndexAny(list, ",|")
		p := proxy{url: strings.TrimSpace(list)}
		if i >= 0 {
			p = proxy{url: strings.TrimSpace(list[:i]), anyError: list[i] == '|'}
			list = list[i+1:]
		} else {
			list = ""
		}
		if p.url != "" {
			out = append(out, p)
		}
	}
	return out
}

// get fetches url (https, or a file) to file, saying how far it is.
func get(ctx context.Context, url, file string, logf func(string, ...any)) error {
	if logf != nil {
		logf("Fetching %s", Redacted(url))
	}
	r, err := fetch.Open(ctx, nil, url)
	if err != nil {
		return &redactedError{strings.ReplaceAll(err.Error(), url, Redacted(url)), err}
	}
	defer r.Close()
	return fsutil.WriteAtomic(file, 0o600, func(w io.Writer) error {
		n, err := io.Copy(w, fetch.Progress(io.LimitReader(r, maxZip+1), 0, logf))
		if err == nil && n > maxZip {
			err = fmt.Errorf("%s is larger than a module zip may be (%d bytes)", url, int64(maxZip))
		}
		return err
	})
}

// Redacted returns a GOPROXY list, or a URL, with the passwords of its
// URLs replaced by "xxxxx", as the go command prints them.
func Redacted(list string) string {
	return userinfo.ReplaceAllStringFunc(list, func(u string) string {
		if p, err := url.Parse(u); err == nil {
			return p.Redacted()
		}
		return u
	})
}

// userinfo matches a URL with a password in a GOPROXY list.
var userinfo = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^/@,|\s]*:[^/@,|\s]*@[^,|\s]*`)

// redactedError is err, whose message names a URL with a password, with
// the password left out of its message.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
