package selfcompile_test

import (
	"archive/zip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shazow/go-selfcompile/inspect"
)

// proxyBuild is example-abinary generated with --bundle fetch and no
// --bundle-url: it embeds its source and pins the toolchain and the
// modules, which installs fetch through the module proxy.
var proxyBuild struct {
	once sync.Once
	bin  string
	err  error
}

func proxyHost(t *testing.T) string {
	t.Helper()
	b := &proxyBuild
	b.once.Do(func() { b.bin, _, b.err = buildPlaced("proxy", "--bundle", "fetch") })
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.bin
}

// A program generated with --bundle fetch and no URL is at most 1 MB
// larger than without its bundles. Its first install, or plan, needs the
// network; through a module proxy (here a file proxy: the module cache of
// the go command that generated it) it fetches the pinned toolchain and
// the modules of its go.sum, and refuses a toolchain or a module whose
// hash differs, whatever GOSUMDB, GONOSUMDB, GOINSECURE or GOFLAGS say,
// with the binary unchanged. The first plan's estimate of the disk
// counts what it fetched. The rebuilt binary keeps the pins, and installs
// again offline from what the cache kept, which holds no module zips.
func TestProxyInstall(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	src := proxyHost(t)
	_, _, plain := besideHost(t)
	bin := filepath.Join(tempDir(t), "bin", "example-abinary")
	copyBinary(t, src, bin)
	if grown := fileSize(bin) - fileSize(plain); grown > 1<<20 {
		t.Errorf("the binary is %d bytes larger than the program without its bundles, want at most 1 MB", grown)
	}
	version := "v0.0.1-" + runtime.Version() + "." + runtime.GOOS + "-" + runtime.GOARCH
	b, err := inspect.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if b.Placement != "proxy" || !strings.HasPrefix(b.Pinned, "golang.org/toolchain@"+version+" h1:") {
		t.Fatalf("inspect: placement %q, pinned %q", b.Placement, b.Pinned)
	}
	download := filepath.Join(e2e.modcache, "cache", "download")
	good := fileProxy(download)
	lax := []string{"GOSUMDB=off", "GONOSUMDB=*", "GOINSECURE=*", "GOFLAGS=-mod=mod", "GONOSUMCHECK=1"}
	// refused checks that an install through proxy fails saying want, the
	// binary unchanged, and returns the cache it used.
	refused := func(proxy string, want ...string) (cache string) {
		t.Helper()
		same := unchanged(t, bin)
		cache = tempDir(t)
		env := append([]string{"XDG_CACHE_HOME=" + cache, "GOPROXY=" + proxy}, lax...)
		_, errOut, err := run(t, bin, env, "plugin", "add", aplugin)
		for _, w := range want {
			if err == nil || !strings.Contains(errOut, w) {
				t.Errorf("GOPROXY=%s: %v, want an error that says %q:\n%s", proxy, err, w, errOut)
			}
		}
		t.Logf("GOPROXY=%s: %s", proxy, lastLine(errOut))
		same()
		return cache
	}
	// inCache lists what a cache holds at the glob pattern.
	inCache := func(cache, pattern string) []string {
		m, _ := filepath.Glob(filepath.Join(cache, "go-selfcompile", pattern))
		return m
	}
	refused("off", "this install may not use the network (GOPROXY=off)", "golang.org/toolchain@"+version)

	// A proxy that serves another toolchain, ahead of the good one.
	badTC := tempDir(t)
	at := filepath.Join("golang.org", "toolchain", "@v", version+".zip")
	alterZip(t, filepath.Join(download, at), filepath.Join(badTC, at), "VERSION")
	c := refused(fileProxy(badTC, download), "golang.org/toolchain@"+version, "not the h1:")
	if got := inCache(c, "toolchains/go*"); len(got) > 0 {
		t.Errorf("a refused toolchain left %q in the cache", got)
	}

	// A proxy that serves another pflag, which the host's go.sum pins.
	badMod := tempDir(t)
	pflag := filepath.Join("github.com", "spf13", "pflag", "@v", "v1.0.5")
	for _, ext := range []string{".info", ".mod"} {
		copyBinary(t, filepath.Join(download, pflag+ext), filepath.Join(badMod, pflag+ext))
	}
	alterZip(t, filepath.Join(download, pflag+".zip"), filepath.Join(badMod, pflag+".zip"), "flag.go")
	c = refused(fileProxy(badMod, download), "github.com/spf13/pflag@v1.0.5", "checksum mismatch")
	if len(inCache(c, "toolchains/go*")) != 1 {
		t.Errorf("the genuine toolchain is not in the cache after the module was refused: %q", inCache(c, "toolchains/*"))
	}
	if got := inCache(c, "hosts/*/mod/github.com/spf13/pflag@*"); len(got) > 0 {
		t.Errorf("a refused module is in the cache: %q", got)
	}

	// The good proxy: a plan first, on the empty cache, which fetches what
	// the binary pins and says what the first install costs, counting the
	// disk of what it fetched.
	cache := tempDir(t)
	env := append([]string{"XDG_CACHE_HOME=" + cache, "GOPROXY=" + good}, lax...)
	out, errOut, err := run(t, bin, env, "plugin", "add", "--dry-run", aplugin)
	m := regexp.MustCompile(`First install: compiles about (\d+) packages; [^\n]*; needs about (\d+) MB of disk`).FindStringSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("a plan through the proxy: %v\n%s\n%s", err, out, errOut)
	}
	if len(inCache(cache, "toolchains/go*")) != 1 {
		t.Fatalf("the plan did not fetch the toolchain: %q", inCache(cache, "toolchains/*"))
	}
	packages, _ := strconv.ParseInt(m[1], 10, 64)
	estimate, _ := strconv.ParseInt(m[2], 10, 64)
	// A compiled package leaves at least half a MB in the build cache
	// (0.6 MB on average for this program).
	if fetched := dirBytes(cache); estimate*1e6 < fetched+packages*5e5 {
		t.Errorf("the first install is said to need %d MB for %d packages, while the toolchain and modules it fetched take %.1f MB", estimate, packages, float64(fetched)/1e6)
	}
	// The install. The build cache is a copy of the tests' own: a cold
	// build is not what this test is about.
	os.RemoveAll(filepath.Join(cache, "go-selfcompile", "build"))
	if out, err := exec.Command("cp", "-al", filepath.Join(e2e.seed, "go-selfcompile", "build"), filepath.Join(cache, "go-selfcompile", "build")).CombinedOutput(); err != nil {
		t.Fatalf("seeding the build cache: %v %s", err, out)
	}
	if out, errOut, err := run(t, bin, env, "--plugin", aplugin); err != nil || !strings.HasSuffix(out, "Success.\n") {
		t.Fatalf("install through the proxy: %v\n%s\n%s", err, out, errOut)
	}
	if out := mustRun(t, bin); out != "aplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after the install: %q", out)
	}
	rebuilt, err := inspect.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if rebuilt.Placement != "proxy" || rebuilt.Pinned != b.Pinned {
		t.Errorf("the rebuilt binary: placement %q, pinned %q; the release's %q", rebuilt.Placement, rebuilt.Pinned, b.Pinned)
	}
	if grown := fileSize(bin) - fileSize(plain); grown > 1<<20 {
		t.Errorf("the rebuilt binary is %d bytes larger than the program without its bundles", grown)
	}
	zips, _ := filepath.Glob(filepath.Join(cache, "go-selfcompile", "hosts", "*", "mod", "cache", "download", "*", "*", "@v", "*.zip"))
	if len(zips) > 0 {
		t.Errorf("the cache keeps module zips: %q", zips)
	}

	// Offline now: the cache has what the pins name.
	plug := filepath.Join(tempDir(t), "pluga")
	writePlugin(t, plug, "example.com/pluga", "pluga activated.")
	if out, errOut, err := run(t, bin, []string{"XDG_CACHE_HOME=" + cache}, "--plugin", plug); err != nil {
		t.Fatalf("an offline install after the first: %v\n%s\n%s", err, out, errOut)
	}
	if out := mustRun(t, bin); out != "pluga activated.\naplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after the second install: %q", out)
	}
}

// alterZip writes to dst the module zip src with one byte of the file
// whose name ends in /name changed: another zip, whose h1: hash differs.
func alterZip(t *testing.T, src, dst, name string) {
	t.Helper()
	zr, err := zip.OpenReader(src)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	os.MkdirAll(filepath.Dir(dst), 0o755)
	f, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	altered := false
	for _, zf := range zr.File {
		if altered || !strings.HasSuffix(zf.Name, "/"+name) {
			if err := zw.Copy(zf); err != nil {
				t.Fatal(err)
			}
			continue
		}
		r, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		r.Close()
		if err != nil || len(data) == 0 {
			t.Fatalf("reading %s in %s: %v", zf.Name, src, err)
		}
		data[0] ^= 0x20
		w, err := zw.Create(zf.Name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		altered = true
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if !altered {
		t.Fatalf("%s holds no %s", src, name)
	}
}

// lastLine returns the last line of s.
func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndex(s, "\n")+1:]
}
