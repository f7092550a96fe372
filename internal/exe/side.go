package exe

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fetch"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/known"
)

var (
	// ErrSideFile matches a *SideFileError.
	ErrSideFile = errors.New("the executable's bundle file is missing, cannot be fetched, or is not the one it was built with")
	// ErrOffline is the cause of a *SideFileError for a file that must be
	// fetched over the network, which the install may not use.
	ErrOffline = fetch.ErrOffline
)

// SideFileError reports that the file beside an executable that holds its
// shared and toolchain bundles is missing, unreadable, or not the file the
// executable names by digest; or, for a fetched file, that it could not be
// fetched, or is not that file. It matches ErrSideFile.
type SideFileError struct {
	// Exe is the executable, Path the file it looks for, as it names it
	// (Side.Path, or Side.URL for a fetched file), and Looked where that
	// is (for a fetched file, where the cache keeps it).
	Exe, Path, Looked string
	// Fetched reports a file that installs fetch from Path.
	Fetched bool
	// Reason says what is wrong with the file, and Err is its cause, if
	// any: the failed fetch (a context's error, a fetch.Error, ErrOffline,
	// a write's error), or the failed read.
	Reason string
	Err    error
}

func (e *SideFileError) Error() string {
	if e.Fetched {
		return fmt.Sprintf("%s fetches the toolchain and the source that installs build with from %s into %s, and that file %s: its vendor publishes there the file of each build, which must match the digests the executable embeds (a file of another build or version of the program does not fit); run it again where it reaches that location, or ask its vendor",
			e.Exe, e.Path, e.Looked, e.Reason)
	}
	return fmt.Sprintf("%s keeps the toolchain and the source that installs build with in %s, and %s %s: install the program again with that file beside it, as its vendor ships them (a file of another build or version of the program does not fit)",
		e.Exe, e.Path, e.Looked, e.Reason)
}

// Is reports whether target is ErrSideFile.
func (e *SideFileError) Is(target error) bool { return target == ErrSideFile }

// Unwrap returns the cause.
func (e *SideFileError) Unwrap() error { return e.Err }

// SidePath returns where the file that holds the executable's bundles is:
// beside it, or for a fetched file where the cache directory dir keeps it
// (named by the digests of the bundles it holds, so that programs that
// fetch the same file share it); "" for an executable that embeds them.
func (x *File) SidePath(dir string) string {
	if x.Side == nil {
		return ""
	}
	if x.Side.URL != "" {
		h := sha256.New()
		for _, b := range x.Side.Bundles {
			fmt.Fprintf(h, "%s %d\n", b.SHA256, b.Size)
		}
		return filepath.Join(dir, hex.EncodeToString(h.Sum(nil))[:32]+".selfcompile")
	}
	p := filepath.FromSlash(x.Side.Path)
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(x.Path), p)
}

// SideOptions say where OpenSide keeps the side files it fetches.
type SideOptions struct {
	// Known remembers a checked file by its identity: while it is
	// unchanged, it is not hashed again.
	Known known.Store
	// Dir is the cache's directory of fetched side files.
	Dir string
	// Offline forbids fetching over the network (a file is still read).
	Offline bool
	// Logf reports a fetch; nil for none.
	Logf func(format string, args ...any)
}

// OpenSide opens the file that holds the executable's shared and
// toolchain bundles (beside it, or fetched from its vendor's URL into
// o.Dir once), checks it against the sha256 and size of each that the
// executable embeds, and makes x.Shared and x.Toolchain read from it. A
// fetched file that the cache holds damaged is fetched again. It does
// nothing for an executable that embeds its bundles.
func (x *File) OpenSide(ctx context.Context, o SideOptions) error {
	if x.Side == nil || x.side != nil {
		return nil
	}
	path := x.SidePath(o.Dir)
	fail := func(err error) error {
		return &SideFileError{Exe: x.Path, Path: cmp.Or(x.Side.URL, x.Side.Path), Looked: path, Fetched: x.Side.URL != "", Reason: err.Error(), Err: errors.Unwrap(err)}
	}
	fetched := x.Side.URL != "" && !fsutil.Exists(path)
	if fetched {
		if err := x.fetchSide(ctx, path, o); err != nil {
			return fail(err)
		}
	}
	f, err := x.openSide(path, o.Known)
	if err != nil && x.Side.URL != "" && !fetched { // damaged in the cache
		if o.Logf != nil {
			o.Logf("The bundle file in the cache %s: fetching it again", err)
		}
		os.Remove(path)
		if err := x.fetchSide(ctx, path, o); err != nil {
			return fail(err)
		}
		f, err = x.openSide(path, o.Known)
	}
	if err != nil {
		return fail(err)
	}
	x.side = f
	for _, b := range x.Side.Bundles {
		slot := x.Shared
		if b.Manifest.Kind == bundle.Toolchain {
			slot = x.Toolchain
		}
		slot.SectionReader = io.NewSectionReader(f, b.Offset, b.Size)
	}
	return nil
}

// openSide opens the side file at path and checks it against the sizes
// and digests x names, unless k remembers it checked; the error says what
// is wrong with the file.
func (x *File) openSide(path string, k known.Store) (*os.File, error) {
	f, err := fsutil.OpenRegular(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errors.New("does not exist")
	}
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot be read: %v", err)
	}
	var sums []string
	for _, b := range x.Side.Bundles {
		sums = append(sums, b.SHA256)
	}
	last := x.Side.Bundles[len(x.Side.Bundles)-1]
	if want := last.Offset + last.Size; fi.Size() != want {
		f.Close()
		return nil, fmt.Errorf("is %d bytes, not %d (damaged, or of another build)", fi.Size(), want)
	}
	id := known.Of(f)
	var checked []string
	if !k.Get(path, id, &checked) || !slices.Equal(checked, sums) {
		if err := checkSide(f, x.Side.Bundles); err != nil {
			f.Close()
			return nil, err
		}
		if known.Of(f).SameContent(id) {
			k.Put(path, id, sums)
		}
	}
	return f, nil
}

// fetchSide fetches the side file from its vendor's URL to path, checked
// against the digests x embeds before it is renamed into place.
func (x *File) fetchSide(ctx context.Context, path string, o SideOptions) error {
	url := x.Side.URL
	if file, _ := fetch.CheckLocation(url); o.Offline && file == "" {
		return fmt.Errorf("is not in the cache, and %w", ErrOffline)
	}
	last := x.Side.Bundles[len(x.Side.Bundles)-1]
	want := last.Offset + last.Size
	if o.Logf != nil {
		o.Logf("Fetching the toolchain and the program's source (%.1f MB) from %s", float64(want)/1e6, url)
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	r, err := fetch.Open(ctx, nil, url)
	if err != nil {
		return fmt.Errorf("could not be fetched: %w", err)
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("could not be kept: %w", err)
	}
	removeLeftovers(filepath.Dir(path))
	pr := fetch.Progress(io.LimitReader(r, want+1), want, o.Logf)
	err = fsutil.WriteAtomic(path, 0o444, func(w io.Writer) error {
		n, err := io.Copy(w, pr)
		switch {
		case err != nil:
			return fmt.Errorf("could not be fetched: %w", err)
		case n > want:
			return fmt.Errorf("is larger than the %d bytes it should be (damaged, or of another build)", want)
		case n < want:
			return fmt.Errorf("is %d bytes, not %d (damaged, or of another build)", n, want)
		}
		if err := checkSide(w.(io.ReaderAt), x.Side.Bundles); err != nil {
			return err
		}
		return w.(*os.File).Sync()
	})
	if err != nil && fsutil.Exists(path) {
		return nil // another install fetched it meanwhile (Windows refuses to rename over it): openSide checks it
	}
	return err
}

// SideToFetch returns the bytes of the side file that OpenSide would
// fetch into dir, 0 for none: an executable that embeds its bundles, keeps
// them beside it, or whose file dir holds already.
func (x *File) SideToFetch(dir string) int64 {
	if x.Side == nil || x.Side.URL == "" || fsutil.Exists(x.SidePath(dir)) {
		return 0
	}
	last := x.Side.Bundles[len(x.Side.Bundles)-1]
	return last.Offset + last.Size
}

// fetchTimeout bounds a fetch of a side file.
const fetchTimeout = 15 * time.Minute

// removeLeftovers removes from dir the temporary files of fetches that
// were killed: older than a fetch may last.
func removeLeftovers(dir string) {
	tmps, _ := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	for _, t := range tmps {
		if fi, err := os.Lstat(t); err == nil && time.Since(fi.ModTime()) > fetchTimeout {
			os.Remove(t)
		}
	}
}

// checkSide checks that each bundle of a side file is where the executable
// says, with the sha256 it says.
func checkSide(r io.ReaderAt, bundles []bundle.SideBundle) error {
	buf := make([]byte, 256<<10)
	for _, b := range bundles {
		h := sha256.New()
		body := b.Size - bundle.TrailerLen
		if _, err := io.CopyBuffer(h, io.NewSectionReader(r, b.Offset, body), buf); err != nil {
			return fmt.Errorf("cannot be read: %v", err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != b.SHA256 {
			return fmt.Errorf("holds a %s bundle whose sha256 is %.12s, not %.12s (damaged, or of another build)", b.Manifest.Kind, got, b.SHA256)
		}
		if t := bundle.Trailer(io.NewSectionReader(r, b.Offset, b.Size), b.Size); string(t) != string(b.Trailer()) {
			return fmt.Errorf("holds a %s bundle whose trailer is damaged", b.Manifest.Kind)
		}
	}
	return nil
}
