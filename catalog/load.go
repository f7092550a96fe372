package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

var (
	// ErrUnreachable matches a catalog that could not be fetched because
	// the network or the vendor's server failed (no connection, a
	// timeout, a 5xx or 429 answer), when the program carries none and
	// this machine has none either.
	ErrUnreachable = errors.New("the vendor's catalog cannot be fetched")
	// ErrMissing matches a catalog location that holds none: a file that
	// does not exist or cannot be read, or a server that answers with
	// another client error (404, 403), when the program carries none and
	// this machine has none either. The location is wrong, or the vendor
	// has not published the catalog there.
	ErrMissing = errors.New("the vendor's catalog is not at its location")
)

// Load returns the newest catalog that cfg's keys verify among the one
// the program embeds, the newest one this machine has verified (kept in
// the directory dir), and the one at cfg.URL, fetched unless offline (a
// file is always read). A fetched catalog that does not verify, or that
// is older than the newest one this machine has verified (a rollback), is
// an error that matches ErrBadCatalog. The newest is kept in dir. A
// catalog older than the policy's MaxAge is reported to logf.
func Load(ctx context.Context, cfg *Config, dir string, offline bool, logf func(string, ...any)) (*Catalog, error) {
	if cfg.Name == "" {
		return nil, fmt.Errorf("%w: the program's catalog configuration has no name", ErrBadCatalog)
	}
	var best *Catalog
	if len(cfg.Embedded) > 0 {
		cat, err := cfg.open(cfg.Embedded)
		if err != nil {
			return nil, fmt.Errorf("%w (the catalog the program carries)", err)
		}
		best = cat
	}
	cached := filepath.Join(dir, cacheName(cfg.Name))
	seen := int64(0)
	if raw, err := readCached(cached); err == nil {
		if cat, err := cfg.open(raw); err != nil {
			logf("Ignoring %s: %v", cached, err)
		} else {
			seen = cat.Sequence
			best = newer(best, cat)
		}
	}
	if cfg.URL != "" && (!offline || !strings.HasPrefix(cfg.URL, "https:") || best == nil) {
		cat, err := cfg.fetch(ctx, best)
		switch {
		case (errors.Is(err, ErrUnreachable) || errors.Is(err, ErrMissing)) && best != nil:
			logf("Using the catalog of sequence %d: %v", best.Sequence, err)
		case err != nil:
			return nil, err
		case cat.Sequence < seen:
			return nil, fmt.Errorf("%w: the catalog at %s has sequence number %d, older than the %d this machine has verified: a rollback", ErrBadCatalog, cfg.URL, cat.Sequence, seen)
		default:
			best = newer(best, cat)
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: the program has a catalog configuration and no catalog", ErrBadCatalog)
	}
	if best.Sequence > seen {
		keep(cached, best.raw, logf)
	}
	if age := time.Since(best.Date); cfg.Policy.MaxAge > 0 && age > cfg.Policy.MaxAge {
		logf("The catalog is %v old, older than the %v its vendor allows: its updates do not reach this machine", age.Round(time.Hour), cfg.Policy.MaxAge)
	}
	return best, nil
}

// fetch reads and verifies the catalog at cfg.URL. One whose sequence
// number is that of have, with other content, is refused.
func (cfg *Config) fetch(ctx context.Context, have *Catalog) (*Catalog, error) {
	raw, err := Fetch(ctx, cfg.Client, cfg.URL)
	if err != nil {
		return nil, err
	}
	cat, err := cfg.open(raw)
	if err != nil {
		return nil, fmt.Errorf("%w (the catalog at %s)", err, cfg.URL)
	}
	if have != nil && cat.Sequence == have.Sequence && !bytes.Equal(cat.text, have.text) {
		return nil, fmt.Errorf("%w: the catalog at %s differs from another of the same sequence number %d", ErrBadCatalog, cfg.URL, cat.Sequence)
	}
	return cat, nil
}

// open verifies a signed catalog with cfg's keys and name.
func (cfg *Config) open(raw []byte) (*Catalog, error) {
	cat, err := Open(raw, cfg.Keys)
	if err != nil {
		return nil, err
	}
	if cat.Name != cfg.Name {
		return nil, fmt.Errorf("%w: it is the catalog %q, and this program's is %q", ErrBadCatalog, cat.Name, cfg.Name)
	}
	return cat, nil
}

func newer(a, b *Catalog) *Catalog {
	if a == nil || b.Sequence > a.Sequence {
		return b
	}
	return a
}

// cacheName is the file that keeps a catalog's newest verified version:
// named for the catalog, not its keys, so that a key rotation keeps what
// the machine has seen.
func cacheName(name string) string {
	return strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(name) + ".note"
}

func readCached(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimited(f)
}

// keep writes the newest verified catalog to the cache, atomically.
func keep(name string, raw []byte, logf func(string, ...any)) {
	err := os.MkdirAll(filepath.Dir(name), 0o700)
	if err == nil {
		err = fsutil.WriteAtomic(name, 0o600, func(w io.Writer) error { _, err := w.Write(raw); return err })
	}
	if err != nil {
		logf("Could not keep the newest catalog in %s (an older one would then be taken for new): %v", name, err)
	}
}
