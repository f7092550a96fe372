package toolchain

import (
	"archive/zip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/dirhash"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fetch"
)

const testVersion = "v0.0.1-go1.26.8.linux-amd64"

// fakeToolchain writes, in a file proxy at dir, a golang.org/toolchain
// module zip that holds a small GOROOT with the given extra files, and
// returns the pin a generator would make of it.
func fakeToolchain(t *testing.T, dir string, extra map[string]string) *bundle.ToolchainModule {
	t.Helper()
	files := map[string]string{
		"VERSION": "go1.26.8\ntime 2026-01-01", "go.env": "GOPROXY=https://proxy.golang.org,direct\n",
		"src/fmt/print.go": "package fmt\n", "src/fmt/print_test.go": "package fmt\n", "src/os/file_windows.go": "package os\n",
		"src/vendor/_go.mod": "module std\n", "pkg/include/textflag.h": "#define NOSPLIT 4\n", "test/x.go": "package x\n",
		"bin/go": "go", "bin/gofmt": "gofmt", "pkg/tool/linux_amd64/cgo": "cgo", "pkg/tool/linux_amd64/link": "link",
		"pkg/tool/linux_amd64/asm": "asm", "pkg/tool/linux_amd64/compile": "compile", "pkg/tool/linux_amd64/vet": "vet",
	}
	for k, v := range extra {
		files[k] = v
	}
	at := filepath.Join(dir, "golang.org", "toolchain", "@v")
	if err := os.MkdirAll(at, 0o755); err != nil {
		t.Fatal(err)
	}
	zipFile := filepath.Join(at, testVersion+".zip")
	f, err := os.Create(zipFile)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, content := range files {
		w, err := zw.Create(bundle.ToolchainPath + "@" + testVersion + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sum, err := dirhash.HashZip(zipFile, dirhash.Hash1)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	pruned, err := Prune(root, "linux", "amd64", false)
	if err != nil {
		t.Fatal(err)
	}
	part, err := bundle.DigestPart(bundle.PartFiles{Name: bundle.PartToolchain, Files: pruned})
	if err != nil {
		t.Fatal(err)
	}
	return &bundle.ToolchainModule{Version: testVersion, Sum: sum, Part: part}
}

// A pinned toolchain is fetched through the first proxy that has it,
// pruned as the generator prunes it, with its programs executable.
func TestFetch(t *testing.T) {
	empty, proxy := t.TempDir(), t.TempDir()
	pin := fakeToolchain(t, proxy, nil)
	dir := t.TempDir()
	var logged []string
	o := Options{Proxy: "file://" + empty + ",file://" + proxy, GOOS: "linux", GOARCH: "amd64",
		Logf: func(f string, a ...any) { logged = append(logged, f) }}
	if err := Fetch(context.Background(), pin, dir, o); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"VERSION", "src/fmt/print.go", "src/vendor/go.mod", "bin/go", "pkg/tool/linux_amd64/compile"} {
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("the fetched toolchain lacks %s: %v", want, err)
		}
	}
	for _, gone := range []string{"src/fmt/print_test.go", "src/os/file_windows.go", "test/x.go", "bin/gofmt", "pkg/tool/linux_amd64/vet", ".module", ".module.zip"} {
		if _, err := os.Stat(filepath.Join(dir, gone)); err == nil {
			t.Errorf("the fetched toolchain keeps %s", gone)
		}
	}
	if fi, err := os.Stat(filepath.Join(dir, "bin/go")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/go: %v %v, want mode 0755", fi, err)
	}
	if len(logged) != 2 {
		t.Errorf("logged %q, want a fetch from each proxy", logged)
	}
}

// A proxy that serves another zip than the pinned one is refused, whatever
// the go environment says: nothing but the pin decides.
func TestFetchMismatch(t *testing.T) {
	proxy := t.TempDir()
	pin := fakeToolchain(t, proxy, nil)
	fakeToolchain(t, proxy, map[string]string{"src/fmt/print.go": "package fmt // altered\n"})
	for _, kv := range []string{"GOSUMDB=off", "GONOSUMDB=*", "GOINSECURE=*", "GOFLAGS=-mod=mod", "GONOSUMCHECK=1"} {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	err := Fetch(context.Background(), pin, t.TempDir(), Options{Proxy: "file://" + proxy, GOOS: "linux", GOARCH: "amd64"})
	var te *Error
	if !errors.Is(err, fetch.ErrMismatch) || !errors.As(err, &te) || !strings.Contains(err.Error(), pin.Sum) {
		t.Fatalf("an altered toolchain: %v, want ErrMismatch naming the pinned hash", err)
	}
	// A pin whose tree differs (another generator's pruning) is refused too.
	pin2 := fakeToolchain(t, proxy, nil)
	pin2.Part.Digest = strings.Repeat("0", 64)
	if err := Fetch(context.Background(), pin2, t.TempDir(), Options{Proxy: "file://" + proxy, GOOS: "linux", GOARCH: "amd64"}); !errors.Is(err, fetch.ErrMismatch) {
		t.Fatalf("a pruned tree other than the pinned one: %v, want ErrMismatch", err)
	}
}

// GOPROXY=off, a list of "direct" alone, and a proxy that fails (not one
// that lacks the file) end the list, as for the go command; a plain http
// proxy, which this does not use, is passed over.
func TestFetchProxyList(t *testing.T) {
	proxy := t.TempDir()
	pin := fakeToolchain(t, proxy, nil)
	for _, c := range []struct {
		list string
		want error
	}{
		{"off", fetch.ErrOffline},
		{"direct", fetch.ErrMissing},
		{"http://127.0.0.1:9,file://" + proxy, nil}, // plain http is passed over
		{"http://127.0.0.1:9", fetch.ErrLocation},
		{"http://127.0.0.1:9|file://" + proxy, nil},
		{"file://" + t.TempDir() + ",off", fetch.ErrOffline},
	} {
		err := Fetch(context.Background(), pin, t.TempDir(), Options{Proxy: c.list, GOOS: "linux", GOARCH: "amd64"})
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("GOPROXY=%s: %v, want %v", c.list, err, c.want)
		}
	}
}

func TestProxies(t *testing.T) {
	got := proxies(" https://a , https://b|file:///c,,direct")
	want := []proxy{{"https://a", false}, {"https://b", true}, {"file:///c", false}, {"direct", false}}
	if len(got) != len(want) {
		t.Fatalf("%v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %v, want %v", i, got[i], want[i])
		}
	}
}

// A proxy's password is not printed.
func TestRedacted(t *testing.T) {
	got := Redacted("https://user:s3cret@proxy.example/go,file:///srv/proxy|https://other.example")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "user:xxxxx@proxy.example/go") || !strings.HasSuffix(got, ",file:///srv/proxy|https://other.example") {
		t.Errorf("redacted: %q", got)
	}
	pin := &bundle.ToolchainModule{Version: testVersion, Sum: "h1:x"}
	err := Fetch(context.Background(), pin, t.TempDir(), Options{Proxy: "https://user:s3cret@127.0.0.1:9/", GOOS: "linux", GOARCH: "amd64"})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !errors.Is(err, fetch.ErrUnreachable) {
		t.Errorf("a failed fetch through a proxy with a password: %v", err)
	}
}
