package exe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fetch"
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
	if err := x.OpenSide(context.Background(), SideOptions{Known: k}); err != nil {
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
	err := y.OpenSide(context.Background(), SideOptions{Known: k})
	var se *SideFileError
	if !errors.As(err, &se) || !errors.Is(err, ErrSideFile) || se.Looked != filepath.Join(dir, "prog.selfcompile") || !strings.Contains(err.Error(), "holds a toolchain bundle whose sha256 is") {
		t.Fatalf("another build's digests: %v", err)
	}
	os.Remove(filepath.Join(dir, "prog.selfcompile"))
	if err := besideFile(t, dir, x.Side).OpenSide(context.Background(), SideOptions{Known: k}); !errors.As(err, &se) || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("no side file: %v", err)
	}
}

// A fetched side file is fetched once into the cache, checked before it
// is kept, and read from the cache afterwards; a file that is not the one
// the executable names is refused and not kept; offline, an https URL is
// not fetched at all.
func TestFetchSide(t *testing.T) {
	published := t.TempDir()
	x := sideFixture(t, published)
	file := filepath.Join(published, "prog.selfcompile")
	fetched := &bundle.Side{URL: "file://" + filepath.ToSlash(file), Bundles: x.Side.Bundles}
	k := known.Store{Dir: t.TempDir()}
	cache := t.TempDir()
	var logged string
	o := SideOptions{Known: k, Dir: cache, Logf: func(f string, a ...any) { logged += f }}

	// What a killed fetch left goes, once older than a fetch may last; a
	// fetch that may still run keeps its file.
	stale, live := filepath.Join(cache, ".x.selfcompile.tmp-1"), filepath.Join(cache, ".x.selfcompile.tmp-2")
	os.WriteFile(stale, []byte("partial"), 0o644)
	os.WriteFile(live, []byte("partial"), 0o644)
	old := time.Now().Add(-2 * fetchTimeout)
	os.Chtimes(stale, old, old)
	y := besideFile(t, t.TempDir(), fetched)
	if err := y.OpenSide(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	y.side.Close()
	if _, err := os.Stat(stale); err == nil {
		t.Error("a killed fetch's temporary file is left")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("a running fetch's temporary file was removed")
	}
	kept := y.SidePath(cache)
	if filepath.Dir(kept) != cache || !fsutilSame(t, kept, file) || !strings.Contains(logged, "Fetching") {
		t.Fatalf("the fetched file is not kept in the cache as published: %s (logged %q)", kept, logged)
	}
	// Once kept, it is read from the cache: the vendor's copy is not needed.
	os.Rename(file, file+".away")
	z := besideFile(t, t.TempDir(), fetched)
	if err := z.OpenSide(context.Background(), o); err != nil {
		t.Fatalf("the kept file: %v", err)
	}
	z.side.Close()

	// A kept file damaged in the cache is fetched again.
	os.Rename(file+".away", file)
	kept = z.SidePath(cache)
	os.Chmod(kept, 0o644)
	damaged, _ := os.ReadFile(kept)
	damaged[x.Side.Bundles[1].Offset+20] ^= 0xff
	os.WriteFile(kept, damaged, 0o644)
	logged = ""
	w := besideFile(t, t.TempDir(), fetched)
	if err := w.OpenSide(context.Background(), SideOptions{Dir: cache, Logf: func(f string, a ...any) { logged += fmt.Sprintf(f, a...) }}); err != nil {
		t.Fatalf("a kept file damaged: %v", err)
	}
	w.side.Close()
	if !fsutilSame(t, kept, file) || !strings.Contains(logged, "whose sha256 is") || !strings.Contains(logged, "fetching it again") {
		t.Fatalf("the damaged kept file was not fetched again (logged %q)", logged)
	}

	// An altered published file, into an empty cache: refused, not kept.
	data, _ := os.ReadFile(file)
	data[x.Side.Bundles[1].Offset+20] ^= 0xff // in the toolchain bundle
	os.WriteFile(file, data, 0o644)
	o.Dir = t.TempDir()
	err := besideFile(t, t.TempDir(), fetched).OpenSide(context.Background(), o)
	var se *SideFileError
	if !errors.As(err, &se) || !se.Fetched || se.Path != fetched.URL || !strings.Contains(err.Error(), "whose sha256 is") {
		t.Fatalf("an altered published file: %v", err)
	}
	if entries, _ := os.ReadDir(o.Dir); len(entries) != 0 {
		t.Errorf("the refused file was kept: %v", entries)
	}

	// Offline, an https URL is refused before any connection.
	offline := &bundle.Side{URL: "https://127.0.0.1:1/prog.selfcompile", Bundles: x.Side.Bundles}
	o.Offline = true
	err = besideFile(t, t.TempDir(), offline).OpenSide(context.Background(), o)
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "may not use the network") || !errors.Is(err, ErrOffline) || !fetch.NeedsNetwork(err) {
		t.Fatalf("offline: %v", err)
	}
	// Online, a server that refuses the connection is the network's
	// failure, and a canceled fetch says so: the cause stays in the chain.
	o.Offline = false
	err = besideFile(t, t.TempDir(), offline).OpenSide(context.Background(), o)
	if !errors.Is(err, ErrSideFile) || !errors.Is(err, fetch.ErrUnreachable) || !fetch.NeedsNetwork(err) {
		t.Fatalf("an unreachable server: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = besideFile(t, t.TempDir(), offline).OpenSide(ctx, o)
	if !errors.Is(err, ErrSideFile) || !errors.Is(err, context.Canceled) {
		t.Fatalf("a canceled fetch: %v", err)
	}
}

// fsutilSame reports whether two files have the same content.
func fsutilSame(t *testing.T, a, b string) bool {
	t.Helper()
	da, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	db, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(da, db)
}
