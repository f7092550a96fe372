package selfcompile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/inspect"
	"github.com/shazow/go-selfcompile/internal/stub"
)

// besideBuild is example-abinary generated with --bundle beside, its side
// file, and the same program built without go-selfcompile, made once per
// test run. Tests copy them.
var besideBuild struct {
	once             sync.Once
	bin, side, plain string
	err              error
}

// besideSideName is where the beside build looks for its side file,
// beside its executable (--bundle-path).
const besideSideName = "example-abinary.selfcompile"

func besideHost(t *testing.T) (bin, side, plain string) {
	t.Helper()
	b := &besideBuild
	b.once.Do(func() { b.err = buildBeside() })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin, b.side, b.plain
}

func buildBeside() error {
	b := &besideBuild
	// Without its generated files, the program builds as it would without
	// go-selfcompile: what the binary's growth is measured against.
	b.plain = filepath.Join(e2e.work, "beside", "plain", "example-abinary")
	if err := buildHost(e2e.repo, "./example/abinary", b.plain, "-ldflags", e2eLDFlags); err != nil {
		return err
	}
	var err error
	b.bin, b.side, err = buildPlaced("beside", "--bundle", "beside", "--bundle-path", besideSideName)
	return err
}

// buildPlaced generates example-abinary in a copy of the repository, named
// name, with the generator's args and the fastest level, builds it, and
// returns the binary and the side file the generator wrote.
func buildPlaced(name string, args ...string) (bin, side string, err error) {
	repo := filepath.Join(e2e.work, "repo-"+name)
	if err := copyRepo(e2e.repo, repo); err != nil {
		return "", "", err
	}
	dir := filepath.Join(repo, "example", "abinary")
	if out, err := command(dir, nil, e2e.gen, append(args, "--level", "fastest", "-q")...); err != nil {
		return "", "", errors.New("generating: " + err.Error() + "\n" + string(out))
	}
	bin = filepath.Join(e2e.work, name, "bin", "example-abinary")
	side = filepath.Join(dir, stub.BundleDir, stub.SideFile(runtime.GOOS, runtime.GOARCH))
	return bin, side, buildHost(repo, "./example/abinary", bin, "-ldflags", e2eLDFlags)
}

// besideCopy gives the test its own copy of the beside build, with its
// side file beside it, and returns the executable and the side file.
func besideCopy(t *testing.T) (bin, side string) {
	t.Helper()
	src, srcSide, _ := besideHost(t)
	bin = filepath.Join(tempDir(t), "bin", "example-abinary")
	copyBinary(t, src, bin)
	side = filepath.Join(filepath.Dir(bin), besideSideName)
	copyBinary(t, srcSide, side)
	return bin, side
}

// A program generated with --bundle beside embeds only the digests of the
// bundles it ships beside it: it is at most 1 MB larger than the same
// program without go-selfcompile. It installs offline, and so does the
// binary the install built, which names the same side file.
func TestBesideInstall(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin, side := besideCopy(t)
	_, _, plain := besideHost(t)
	grown, embedded := fileSize(bin)-fileSize(plain), fileSize(e2e.abinary)
	t.Logf("example-abinary: %d bytes without go-selfcompile, %d with its bundles beside it (+%d), %d with them embedded; side file %d bytes",
		fileSize(plain), fileSize(bin), grown, embedded, fileSize(side))
	if grown > 1<<20 {
		t.Errorf("the beside binary is %d bytes larger than the program without go-selfcompile, want at most 1 MB", grown)
	}
	// The bundles left the binary: it is smaller than the embedded build by
	// about what its side file holds (the same bundles, at the same level).
	if lighter := embedded - fileSize(bin); lighter < fileSize(side)-1<<20 {
		t.Errorf("the beside binary is %d bytes smaller than the embedded build, its side file %d bytes: the bundles are still in it", lighter, fileSize(side))
	}
	b, err := inspect.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if b.Placement != "beside" || b.BundleFile != besideSideName || len(b.Bundles) != 2 || b.Bundles[1].Kind != "toolchain" || len(b.Bundles[1].SHA256) != 64 {
		t.Errorf("inspect: placement %q, file %q, bundles %+v", b.Placement, b.BundleFile, b.Bundles)
	}
	if out := mustRun(t, bin, "--plugin", aplugin); !strings.HasSuffix(out, "Success.\n") {
		t.Errorf("install output %q", out)
	}
	if out := mustRun(t, bin); out != "aplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after the install: %q", out)
	}
	// The rebuilt binary keeps its placement: still small, naming the same
	// side file, and it installs again.
	if grown := fileSize(bin) - fileSize(plain); grown > 1<<20 {
		t.Errorf("the rebuilt binary is %d bytes larger than the program without go-selfcompile", grown)
	}
	rebuilt, err := inspect.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt.Placement != "beside" || rebuilt.BundleFile != besideSideName || rebuilt.Bundles[0] != b.Bundles[0] || rebuilt.Bundles[1] != b.Bundles[1] {
		t.Errorf("the rebuilt binary: placement %q, file %q, bundles %+v; the release's %+v", rebuilt.Placement, rebuilt.BundleFile, rebuilt.Bundles, b.Bundles)
	}
	plug := filepath.Join(tempDir(t), "pluga")
	writePlugin(t, plug, "example.com/pluga", "pluga activated.")
	mustRun(t, bin, "--plugin", plug)
	if out := mustRun(t, bin); out != "pluga activated.\naplugin activated.\nJust doing binary things\n" { // init order: import path order
		t.Fatalf("after the second install: %q", out)
	}
	// A rollback knows the backup for a build of the same program: it
	// names the same side file by the same digests.
	pluginCmd(t, bin, nil, "rollback")
	if out := mustRun(t, bin); out != "aplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after the rollback: %q", out)
	}
	// The rebuilt binary reads its bundles from the side file: without it,
	// it installs nothing and says where the file was looked for.
	if err := os.Rename(side, side+".away"); err != nil {
		t.Fatal(err)
	}
	same := unchanged(t, bin)
	_, errOut, err := run(t, bin, nil, "plugin", "add", plug)
	if err == nil || !strings.Contains(errOut, side+" does not exist") {
		t.Errorf("the rebuilt binary without its side file: %v\n%s", err, errOut)
	}
	same()
}

// A side file that is missing, or not the one the binary names by
// digest, is refused before anything is built, naming the file and where
// it was looked for; the binary is unchanged.
func TestBesideSideFileRefused(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	for _, c := range []struct {
		name   string
		spoil  func(t *testing.T, side string)
		reason string
	}{
		{"missing", func(t *testing.T, side string) { os.Remove(side) }, "does not exist"},
		{"altered", func(t *testing.T, side string) {
			data, err := os.ReadFile(side)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0xff // in the toolchain bundle
			if err := os.WriteFile(side, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}, "holds a toolchain bundle whose sha256 is"},
		{"truncated", func(t *testing.T, side string) { os.Truncate(side, fileSize(side)-1) }, " bytes, not "},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin, side := besideCopy(t)
			c.spoil(t, side)
			same := unchanged(t, bin)
			_, err := installer(t, bin).Apply(context.Background(), selfcompile.Change{Add: []string{aplugin}})
			var se *selfcompile.SideFileError
			if !errors.As(err, &se) || !errors.Is(err, selfcompile.ErrSideFile) {
				t.Fatalf("err = %v, want a *SideFileError", err)
			}
			if se.Looked != side || se.Path != besideSideName || !strings.Contains(err.Error(), side+" ") || !strings.Contains(err.Error(), c.reason) || !strings.Contains(err.Error(), "install the program again with that file beside it") {
				t.Errorf("the error does not say which file, where and what to do: %v", err)
			}
			same()
			if out := mustRun(t, bin); out != "Just doing binary things\n" {
				t.Errorf("the binary after the refused install: %q", out)
			}
		})
	}
}

// fetchedBuild is example-abinary generated with --bundle fetch, whose
// vendor publishes its side files under a directory (a file:// URL, as a
// local mirror serves them), made once per test run.
var fetchedBuild struct {
	once           sync.Once
	bin, published string
	err            error
}

func fetchedHost(t *testing.T) (bin, published string) {
	t.Helper()
	b := &fetchedBuild
	b.once.Do(func() {
		dir := filepath.Join(e2e.work, "fetched", "published")
		if b.err = os.MkdirAll(dir, 0o755); b.err != nil {
			return
		}
		var side string
		if b.bin, side, b.err = buildPlaced("fetched", "--bundle", "fetch", "--bundle-url", "file://"+filepath.ToSlash(dir)); b.err == nil {
			b.published = filepath.Join(dir, filepath.Base(side))
			b.err = os.Rename(side, b.published)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin, b.published
}

// A program generated with --bundle fetch embeds only the digests of its
// bundles, at most 1 MB; an install fetches the file its vendor publishes
// into the cache, checked against those digests whatever GOSUMDB,
// GONOSUMDB, GOINSECURE or GOFLAGS say: an altered file is refused with
// the binary unchanged. The rebuilt binary keeps its placement, and
// installs from the cache once the vendor's file is gone.
func TestFetchedInstall(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	src, published := fetchedHost(t)
	_, _, plain := besideHost(t)
	bin := filepath.Join(tempDir(t), "bin", "example-abinary")
	copyBinary(t, src, bin)
	if grown := fileSize(bin) - fileSize(plain); grown > 1<<20 {
		t.Errorf("the fetched binary is %d bytes larger than the program without go-selfcompile, want at most 1 MB", grown)
	}
	url := "file://" + filepath.ToSlash(published)
	b, err := inspect.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if b.Placement != "fetched" || b.BundleFile != url || len(b.Bundles) != 2 {
		t.Errorf("inspect: placement %q, file %q, bundles %+v", b.Placement, b.BundleFile, b.Bundles)
	}

	// An altered file, into a cache of its own: refused, the binary unchanged.
	good, err := os.ReadFile(published)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 0xff // in the toolchain bundle
	if err := os.WriteFile(published, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	same := unchanged(t, bin)
	lax := []string{"XDG_CACHE_HOME=" + tempDir(t), "GOSUMDB=off", "GONOSUMDB=*", "GOINSECURE=*", "GOFLAGS=-mod=mod"}
	_, errOut, err := run(t, bin, lax, "plugin", "add", aplugin)
	if err == nil || !strings.Contains(errOut, url) || !strings.Contains(errOut, "holds a toolchain bundle whose sha256 is") {
		t.Fatalf("an altered published file: %v\n%s", err, errOut)
	}
	same()
	if err := os.WriteFile(published, good, 0o644); err != nil {
		t.Fatal(err)
	}

	if out := mustRun(t, bin, "--plugin", aplugin); !strings.HasSuffix(out, "Success.\n") {
		t.Errorf("install output %q", out)
	}
	if out := mustRun(t, bin); out != "aplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after the install: %q", out)
	}
	rebuilt, err := inspect.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt.Placement != "fetched" || rebuilt.BundleFile != url || rebuilt.Bundles[0] != b.Bundles[0] || rebuilt.Bundles[1] != b.Bundles[1] {
		t.Errorf("the rebuilt binary: placement %q, file %q, bundles %+v; the release's %+v", rebuilt.Placement, rebuilt.BundleFile, rebuilt.Bundles, b.Bundles)
	}
	if grown := fileSize(bin) - fileSize(plain); grown > 1<<20 {
		t.Errorf("the rebuilt binary is %d bytes larger than the program without go-selfcompile", grown)
	}
	// The cache keeps the file: the vendor's copy is no longer needed.
	if err := os.Rename(published, published+".away"); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(published+".away", published)
	plug := filepath.Join(tempDir(t), "pluga")
	writePlugin(t, plug, "example.com/pluga", "pluga activated.")
	mustRun(t, bin, "--plugin", plug)
	if out := mustRun(t, bin); out != "pluga activated.\naplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after the second install: %q", out)
	}
}
