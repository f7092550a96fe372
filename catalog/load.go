package catalog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/lockfile"
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
	// ErrUntrustedServer matches a catalog that could not be fetched
	// because this machine does not trust the certificate of the https
	// server at its location (self-signed, of an unknown authority, for
	// another name, expired), when the program carries none and this
	// machine has none either. The network is there: what is missing is
	// the certificate's trust.
	ErrUntrustedServer = errors.New("the server of the vendor's catalog is not trusted")
)

// Load returns the newest catalog that cfg's keys verify among the one
// the program embeds, the newest one this machine has verified (kept in
// the directory dir), and the one at cfg.URL, fetched unless offline (a
// file is always read). A fetched catalog that does not verify, or that
// is older than the newest one this machine has verified (a rollback), is
// an error that matches ErrBadCatalog. A catalog older than the policy's
// MaxAge is reported to logf.
//
// What this machine has verified is kept in dir, for every program of the
// user that carries a catalog of that name, whatever keys it carries (see
// record): the highest sequence number verified, which only goes up, and
// the newest catalog verified, which a program replaces only by a newer
// one that it verifies, and only if it verifies the one kept: a program
// without the keys of a rotation leaves the catalog of the new keys alone.
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
	rec := recordOf(dir, cfg.Name)
	recorded, keptSeq := rec.highest(), int64(0)
	if kept, err := rec.kept(cfg); err == nil {
		keptSeq = kept.Sequence
		best = newer(best, kept)
	} else if !errors.Is(err, fs.ErrNotExist) {
		logf("Ignoring %s, which this program cannot verify, and leaving it as it is: %v", rec.note, err)
	}
	seen := max(recorded, keptSeq)
	if cfg.URL != "" && (!offline || !strings.HasPrefix(cfg.URL, "https:") || best == nil) {
		cat, err := cfg.fetch(ctx, best)
		switch {
		case (errors.Is(err, ErrUnreachable) || errors.Is(err, ErrMissing) || errors.Is(err, ErrUntrustedServer)) && best != nil:
			logf("Using the catalog of sequence %d: %v", best.Sequence, err)
		case err != nil:
			return nil, err
		case cat.Sequence < seen:
			return nil, fmt.Errorf("%w: the catalog at %s has sequence number %d, older than the %d this machine has verified (%s): a rollback", ErrBadCatalog, cfg.URL, cat.Sequence, seen, rec.sequence)
		default:
			best = newer(best, cat)
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: the program has a catalog configuration and no catalog", ErrBadCatalog)
	}
	if best.Sequence < seen {
		logf("Using the catalog of sequence %d, the newest this program has and can verify, though this machine has verified sequence %d (%s): fetching it needs the network, and verifying it may need a version of the program with newer keys", best.Sequence, seen, rec.sequence)
	} else if best.Sequence > min(recorded, keptSeq) {
		rec.raise(ctx, cfg, best, logf)
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

// record is what this machine keeps of a catalog, in three files named
// for the catalog, not its keys, so that a key rotation keeps what the
// machine has seen: NAME.note, the newest catalog verified, as signed;
// NAME.sequence, the highest sequence number any program of the user has
// verified, in decimal, which a program reads though it may not carry the
// keys that verify NAME.note; and NAME.lock, held while they change.
type record struct{ note, sequence, lock string }

func recordOf(dir, name string) record {
	base := filepath.Join(dir, strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(name))
	return record{note: base + ".note", sequence: base + ".sequence", lock: base + ".lock"}
}

// highest returns the highest sequence number verified on this machine,
// 0 for none.
func (r record) highest() int64 {
	data, err := os.ReadFile(r.sequence)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return n
}

// kept returns the catalog kept, if cfg's keys verify it.
func (r record) kept(cfg *Config) (*Catalog, error) {
	f, err := os.Open(r.note)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := readLimited(f)
	if err != nil {
		return nil, err
	}
	return cfg.open(raw)
}

// raise records cat, verified with cfg's keys, as the newest this machine
// has verified: the sequence number if it is higher than the one recorded,
// and the catalog itself unless the one kept is as new, or is one that
// cfg's keys do not verify. Under the record's lock, so that two programs
// that load at once never lower it.
func (r record) raise(ctx context.Context, cfg *Config, cat *Catalog, logf func(string, ...any)) {
	err := os.MkdirAll(filepath.Dir(r.note), 0o700)
	var l *lockfile.Lock
	if err == nil {
		l, err = lockfile.Open(ctx, r.lock, true, true, nil)
	}
	if err != nil {
		logf("Could not record the newest catalog in %s (an older one would then be taken for new): %v", filepath.Dir(r.note), err)
		return
	}
	defer l.Release()
	if cat.Sequence > r.highest() {
		write(r.sequence, []byte(strconv.FormatInt(cat.Sequence, 10)+"\n"), logf)
	}
	kept, err := r.kept(cfg)
	if errors.Is(err, fs.ErrNotExist) || err == nil && kept.Sequence < cat.Sequence {
		write(r.note, cat.raw, logf)
	}
}

// write writes a file of the record, atomically.
func write(name string, data []byte, logf func(string, ...any)) {
	if err := fsutil.WriteAtomic(name, 0o600, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		logf("Could not record the newest catalog in %s (an older one would then be taken for new): %v", name, err)
	}
}
