package selfcompile_test

import (
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/shazow/go-selfcompile/internal/stub"
)

// BenchmarkPlacements (in make bench) measures the placements of the
// bundles on the net/http program of BenchmarkInstall: see placementRows.
func BenchmarkPlacements(b *testing.B) {
	if testing.Short() {
		b.Skip("slow")
	}
	work, repo, host := netHost(b)
	out, err := command(host, nil, "go", "tool", "-n", "go-selfcompile") // builds the generator, outside the timing
	if err != nil {
		b.Fatalf("go tool -n: %v\n%s", err, out)
	}
	tool := strings.TrimSpace(string(out))
	var t table
	placementRows(b, &t, placementRun{
		work: work, mainDir: host,
		build:    func(out string) { timed(b, repo, nil, "go", "build", "-trimpath", "-o", out, "./example/nethost") },
		gen:      func(flags ...string) { timed(b, host, nil, tool, append([]string{"-q"}, flags...)...) },
		plainBin: netPlain(b, repo, work),
		plugin:   aplugin,
		newPlugin: func(i int) string {
			d := filepath.Join(work, fmt.Sprintf("placed%d", i))
			writePluginB(b, d, fmt.Sprintf("example.com/placed%d", i))
			return d
		},
		floors: func(cache string, between func(i int)) (cold, warm time.Duration) {
			defer os.Remove(filepath.Join(host, floorFile))
			return coldWarm(floorBuilder(b, host, aplugin, repo, []string{"GOCACHE=" + cache}, filepath.Join(work, "floor"), "./example/nethost"), between)
		},
	})
	t.print()
}

// placementRun is a program that placementRows measures the placements
// of the bundles on.
type placementRun struct {
	// work is the benchmark's directory; mainDir the program's main
	// package, and its module builds the binary with build.
	work, mainDir string
	build         func(out string)
	// gen runs the generator with the flags given, at the level of a
	// release; plainBin is the same program without go-selfcompile.
	gen      func(flags ...string)
	plainBin string
	// plugin is what the first install adds, and newPlugin writes the i-th
	// plugin of the repeat installs into a directory and returns it.
	plugin    string
	newPlugin func(i int) string
	// floors times go build -trimpath of the program as generated, with
	// the plugin imported, with its build cache in dir: cold, then the
	// median of three with only main changed; between runs among them as
	// coldWarm runs it.
	floors func(dir string, between func(i int)) (cold, warm time.Duration)
}

// placementRows generates the program with each placement of its bundles
// (embedded, beside, fetched over https from a local server that the
// installer trusts through SSL_CERT_FILE, and the toolchain and modules
// pinned and fetched from a file proxy: the go command's module cache),
// and adds for each: the binary's
// size beside the program with the library and no bundles, and beside the
// program without go-selfcompile, its first install on a
// fresh cache (offline, but for the fetch) against the cold floor of that
// binary, its repeat install against the warm floor, and the cache after
// the first install, by part.
func placementRows(b *testing.B, t *table, p placementRun) {
	b.Helper()
	srv, certFile := bundleServer(b, p.work)
	// The program with the library and without generated files: what
	// the bundles add to, beside the program without the library at all.
	os.RemoveAll(filepath.Join(p.mainDir, stub.BundleDir))
	os.Remove(filepath.Join(p.mainDir, stub.MainFile))
	libBin := filepath.Join(p.work, "placement-library", filepath.Base(p.mainDir))
	p.build(libBin)
	t.add("program without go-selfcompile", mb(fileSize(p.plainBin)), "")
	t.add("program with the library, without bundles", mb(fileSize(libBin)), fmt.Sprintf("+%s: the library's code", mb(fileSize(libBin)-fileSize(p.plainBin))))
	for _, c := range []struct {
		name string
		args []string
	}{
		{"embedded", nil},
		{"beside", []string{"--bundle", "beside"}},
		{"fetched", []string{"--bundle", "fetch", "--bundle-url", srv.URL}},
		{"proxy", []string{"--bundle", "fetch"}},
	} {
		p.gen(c.args...)
		dir := filepath.Join(p.work, "placement-"+c.name)
		bin := filepath.Join(dir, "bin", filepath.Base(p.mainDir))
		p.build(bin)
		side := filepath.Join(p.mainDir, "selfcompilebundle", stub.SideFile(runtime.GOOS, runtime.GOARCH))
		switch c.name {
		case "beside":
			copyFile(b, side, filepath.Join(filepath.Dir(bin), filepath.Base(p.mainDir)+".selfcompile"))
		case "fetched":
			copyFile(b, side, filepath.Join(p.work, "published", filepath.Base(side)))
		}
		home := filepath.Join(dir, "home")
		env := []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "SSL_CERT_FILE=" + certFile}
		offline := append(env, "GOPROXY=off")
		how, firstEnv := "offline", offline
		switch c.name { // GOPROXY=off (TestMain's) forbids the fetch
		case "fetched":
			how, firstEnv = "fetching its bundle file over https", append(env, "GOPROXY="+e2e.proxy)
		case "proxy":
			how, firstEnv = "fetching the toolchain and modules from a file proxy", append(env, "GOPROXY="+downloadedProxy(b))
		}
		// The first install after the cold floor, then each repeat install
		// after a warm one.
		var first measured
		var parts cacheUse
		var repeats []measured
		cold, warm := p.floors(filepath.Join(dir, "floorcache"), func(i int) {
			if i == 0 {
				first = measure(b, firstEnv, bin, "plugin", "add", p.plugin)
				parts = cacheParts(filepath.Join(home, "cache", "go-selfcompile"))
				return
			}
			repeats = append(repeats, measure(b, offline, bin, "plugin", "add", p.newPlugin(i-1)))
		})
		repeat := median(repeats)
		t.add(c.name+": binary", mb(fileSize(bin)), fmt.Sprintf("+%s on the library alone (goal <= 1 MB but embedded), +%s on the program without go-selfcompile", kbOrMB(fileSize(bin)-fileSize(libBin)), mb(fileSize(bin)-fileSize(p.plainBin))))
		t.add("  first install, fresh cache, "+how, secs(first.total), ratio(first.total, cold, "cold")+fmt.Sprintf(" (floor %s)", secs(cold)))
		t.add("  repeat install, median of 3", secs(repeat.total), ratio(repeat.total, warm, "warm")+fmt.Sprintf(" (floor %s, median of 3, each run before an install; goal <= 1.2)", secs(warm)))
		t.add("    of which", "", stageLine(repeat))
		t.add("  cache after the first install", mb(parts.total), parts.String())
		t.add("  the floors' go build cache, for comparison", mb(dirBytes(filepath.Join(dir, "floorcache"))), "what any go build of the program keeps")
		if c.name == "embedded" {
			build := filepath.Join(home, "cache", "go-selfcompile", "build")
			packed, unpack := packedCache(b, build)
			t.add("  its build cache if kept compressed (zstd fastest)", mb(packed), fmt.Sprintf("of %s; writing it back, as each install would: %s (%.2f of the warm floor)", mb(dirBytes(build)), secs(unpack), unpack.Seconds()/warm.Seconds()))
		}
	}
}

// downloadedProxy returns a GOPROXY that serves, from files, what the
// go command downloaded: its module cache's download directory.
func downloadedProxy(b *testing.B) string {
	b.Helper()
	out, err := command(".", nil, "go", "env", "GOMODCACHE")
	if err != nil {
		b.Fatalf("go env GOMODCACHE: %v\n%s", err, out)
	}
	return fileProxy(filepath.Join(strings.TrimSpace(string(out)), "cache", "download"))
}

// bundleServer serves the directory work/published over https, and
// returns the server and a file with its certificate, which the installers
// trust through SSL_CERT_FILE.
func bundleServer(b *testing.B, work string) (*httptest.Server, string) {
	b.Helper()
	dir := filepath.Join(work, "published")
	os.MkdirAll(dir, 0o755)
	srv := httptest.NewTLSServer(http.FileServer(http.Dir(dir)))
	b.Cleanup(srv.Close)
	cert := filepath.Join(work, "server.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(cert, pemBytes, 0o644); err != nil {
		b.Fatal(err)
	}
	return srv, cert
}

// kbOrMB formats n bytes as kB under 1 MB.
func kbOrMB(n int64) string {
	if n < 1e6 {
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return mb(n)
}

func copyFile(b *testing.B, src, dst string) {
	b.Helper()
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if out, err := exec.Command("cp", src, dst).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v\n%s", err, out)
	}
}

// cacheUse is the cache of installs, by part.
type cacheUse struct {
	total int64
	parts []string
}

func (c cacheUse) String() string { return strings.Join(c.parts, ", ") }

// cacheParts measures the cache of installs at dir by part: the
// toolchains, the go build cache, the programs' modules and sources, the
// fetched bundle files, and the rest.
func cacheParts(dir string) cacheUse {
	var c cacheUse
	c.total = dirBytes(dir)
	rest := c.total
	add := func(name string, n int64) {
		if n > 0 {
			c.parts = append(c.parts, name+" "+mb(n))
			rest -= n
		}
	}
	add("toolchain", dirBytes(filepath.Join(dir, "toolchains")))
	add("build cache", dirBytes(filepath.Join(dir, "build")))
	var mods, srcs int64
	hosts, _ := filepath.Glob(filepath.Join(dir, "hosts", "*"))
	for _, h := range hosts {
		mods += dirBytes(filepath.Join(h, "mod"))
		ss, _ := filepath.Glob(filepath.Join(h, "src-*"))
		for _, s := range ss {
			srcs += dirBytes(s)
		}
	}
	add("modules", mods)
	add("source", srcs)
	add("fetched bundle file", dirBytes(filepath.Join(dir, "bundles")))
	add("the rest", rest)
	return c
}

// packedCache measures what a go build cache at dir would keep if each
// file were stored compressed (zstd, its fastest level), and how long
// writing them all back takes, in parallel, into a directory under dir's
// parent that is then removed: what an install would pay before every
// build for a cache kept that way, since a build reads the archive of
// every package that it links (a cache program answers the go command
// with files on disk).
func packedCache(b *testing.B, dir string) (packed int64, unpack time.Duration) {
	b.Helper()
	enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	dec, _ := zstd.NewReader(nil, zstd.WithDecoderConcurrency(0))
	defer dec.Close()
	blobs := map[string][]byte{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			data, _ := os.ReadFile(p)
			blob := enc.EncodeAll(data, nil)
			blobs[strings.TrimPrefix(p, dir)] = blob
			packed += int64(len(blob))
		}
		return nil
	})
	out := dir + "-unpacked"
	defer os.RemoveAll(out)
	exec.Command("sync").Run()
	start := time.Now()
	names := make(chan string)
	errs := make(chan error, runtime.GOMAXPROCS(0))
	for range cap(errs) {
		go func() {
			var failed []error
			for name := range names {
				data, err := dec.DecodeAll(blobs[name], nil)
				if err == nil {
					os.MkdirAll(filepath.Dir(out+name), 0o755)
					err = os.WriteFile(out+name, data, 0o644)
				}
				if err != nil {
					failed = append(failed, err)
				}
			}
			errs <- errors.Join(failed...)
		}()
	}
	for name := range blobs {
		names <- name
	}
	close(names)
	for range cap(errs) {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	return packed, time.Since(start)
}

// stageLine lists where an install's time went, by stage.
func stageLine(m measured) string {
	var parts []string
	for _, s := range []string{"start", "restore", "download", "resolve", "check", "build", "verify", "replace"} {
		if d, ok := m.stages[s]; ok {
			parts = append(parts, s+" "+secs(d))
		}
	}
	return strings.Join(parts, ", ")
}
