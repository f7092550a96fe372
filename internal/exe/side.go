package exe

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/known"
)

// ErrSideFile matches a *SideFileError.
var ErrSideFile = errors.New("the bundle file beside the executable is missing or is not the one it was built with")

// SideFileError reports that the file beside an executable that holds its
// shared and toolchain bundles is missing, unreadable, or not the file the
// executable names by digest. It matches ErrSideFile.
type SideFileError struct {
	// Exe is the executable, Path the file it looks for, as it names it
	// (Side.Path), and Looked where that is.
	Exe, Path, Looked string
	// Reason says what is wrong with the file.
	Reason string
}

func (e *SideFileError) Error() string {
	return fmt.Sprintf("%s keeps the toolchain and the source that installs build with in %s, and %s %s: install the program again with that file beside it, as its vendor ships them (a file of another build or version of the program does not fit)",
		e.Exe, e.Path, e.Looked, e.Reason)
}

// Is reports whether target is ErrSideFile.
func (e *SideFileError) Is(target error) bool { return target == ErrSideFile }

// SidePath returns where the file beside the executable that holds its
// bundles is, or "" for an executable that embeds them.
func (x *File) SidePath() string {
	if x.Side == nil {
		return ""
	}
	p := filepath.FromSlash(x.Side.Path)
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(x.Path), p)
}

// OpenSide opens the file beside the executable that holds its shared and
// toolchain bundles, checks it against the sha256 and size of each that
// the executable embeds, and makes x.Shared and x.Toolchain read from it.
// k remembers a checked file by its identity: while it is unchanged, it is
// not hashed again. It does nothing for an executable that embeds its
// bundles.
func (x *File) OpenSide(k known.Store) error {
	if x.Side == nil || x.side != nil {
		return nil
	}
	path := x.SidePath()
	fail := func(format string, args ...any) error {
		return &SideFileError{Exe: x.Path, Path: x.Side.Path, Looked: path, Reason: fmt.Sprintf(format, args...)}
	}
	f, err := fsutil.OpenRegular(path)
	if errors.Is(err, os.ErrNotExist) {
		return fail("does not exist")
	}
	if err != nil {
		return fail("cannot be read: %v", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fail("cannot be read: %v", err)
	}
	var sums []string
	for _, b := range x.Side.Bundles {
		sums = append(sums, b.SHA256)
	}
	last := x.Side.Bundles[len(x.Side.Bundles)-1]
	if want := last.Offset + last.Size; fi.Size() != want {
		f.Close()
		return fail("is %d bytes, not %d (damaged, or of another build)", fi.Size(), want)
	}
	id := known.Of(f)
	var checked []string
	if !k.Get(path, id, &checked) || !slices.Equal(checked, sums) {
		if err := checkSide(f, x.Side.Bundles); err != nil {
			f.Close()
			return fail("%v", err)
		}
		if known.Of(f).SameContent(id) {
			k.Put(path, id, sums)
		}
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
