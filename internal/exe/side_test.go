package exe

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/known"
)

// sideFixture writes a side file of two small bundles beside a fake
// executable in dir, and returns the executable as read from a beside
// bundle that names them.
func sideFixture(t *testing.T, dir string) *File {
	t.Helper()
	var side bytes.Buffer
	s := &bundle.Side{Path: "prog.selfcompile"}
	for _, kind := range []string{bundle.Shared, bundle.Toolchain} {
		src := filepath.Join(t.TempDir(), "f")
		os.WriteFile(src, []byte(kind+" content"), 0o644)
		m := &bundle.Manifest{Kind: kind}
		var b bytes.Buffer
		if err := bundle.Write(&b, m, []bundle.PartFiles{{Name: "p", Files: []bundle.File{{Name: "f", Src: src}}}}, bundle.LevelFastest); err != nil {
			t.Fatal(err)
		}
		tr := bundle.Trailer(bytes.NewReader(b.Bytes()), int64(b.Len()))
		s.Bundles = append(s.Bundles, bundle.SideBundle{Manifest: m, Offset: int64(side.Len()), Size: int64(b.Len()), SHA256: bundle.TrailerSum(tr)})
		side.Write(b.Bytes())
	}
	if err := os.WriteFile(filepath.Join(dir, "prog.selfcompile"), side.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return besideFile(t, dir, s)
}

func besideFile(t *testing.T, dir string, s *bundle.Side) *File {
	t.Helper()
	x := &File{Path: filepath.Join(dir, "prog"), Beside: &Bundle{Manifest: &bundle.Manifest{Kind: bundle.Beside, Side: s}}}
	if err := x.beside(); err != nil {
		t.Fatal(err)
	}
	return x
}

// A side file is checked against the digests the executable names before
// its bundles are read; what the cache remembers of a check holds only for
// the same digests.
func TestOpenSide(t *testing.T) {
	dir := t.TempDir()
	k := known.Store{Dir: t.TempDir()}
	x := sideFixture(t, dir)
	if err := x.OpenSide(k); err != nil {
		t.Fatal(err)
	}
	defer x.side.Close()
	if x.Toolchain.SectionReader == nil || string(x.Toolchain.Trailer()) != string(bundle.Trailer(x.Toolchain, x.Toolchain.Size())) {
		t.Fatal("the toolchain bundle does not read from the side file")
	}
	// Another build names other digests for the same file: the check
	// remembered for this file does not pass it.
	other := *x.Side
	other.Bundles = append([]bundle.SideBundle(nil), x.Side.Bundles...)
	other.Bundles[1].SHA256 = strings.Repeat("0", 64)
	y := besideFile(t, dir, &other)
	err := y.OpenSide(k)
	var se *SideFileError
	if !errors.As(err, &se) || !errors.Is(err, ErrSideFile) || se.Looked != filepath.Join(dir, "prog.selfcompile") || !strings.Contains(err.Error(), "holds a toolchain bundle whose sha256 is") {
		t.Fatalf("another build's digests: %v", err)
	}
	os.Remove(filepath.Join(dir, "prog.selfcompile"))
	if err := besideFile(t, dir, x.Side).OpenSide(k); !errors.As(err, &se) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("no side file: %v", err)
	}
}
