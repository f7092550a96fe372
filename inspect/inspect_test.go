package inspect

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/internal/bundle"
)

// buildEmbedding builds a small Go program that embeds the bundle whose
// manifest is m (with no parts), and returns its path and the bundle.
func buildEmbedding(t *testing.T, m *bundle.Manifest) (bin string, embedded []byte) {
	t.Helper()
	var b bytes.Buffer
	if err := bundle.Write(&b, m, nil, bundle.LevelFastest); err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	files := map[string]string{
		"go.mod":     "module example.com/prog\n\ngo 1.22\n",
		"main.go":    "package main\n\nimport _ \"embed\"\n\n//go:embed b.bundle\nvar b string\n\nfunc main() { println(len(b)) }\n",
		"b.bundle":   b.String(),
		"README.txt": "a program that embeds a bundle, for inspect's tests\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin = filepath.Join(t.TempDir(), "prog")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Dir, cmd.Env = src, append(os.Environ(), "GOWORK=off", "GOFLAGS=", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin, b.Bytes()
}

// inspect shows where a binary's bundles are and the size and sha256 of
// each: for bundles beside it, the file it names and the digests it
// embeds for them; for embedded ones, those of the bundles it carries.
func TestPlacement(t *testing.T) {
	goos, goarch := runtime.GOOS, runtime.GOARCH
	shared := &bundle.Manifest{Kind: bundle.Shared, MainPackage: "example.com/prog", Targets: []string{goos + "/" + goarch}}
	toolchain := &bundle.Manifest{Kind: bundle.Toolchain, GOOS: goos, GOARCH: goarch}
	sharedSum, toolchainSum := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	beside := &bundle.Manifest{Kind: bundle.Beside, GOOS: goos, GOARCH: goarch, MainPackage: "example.com/prog", Side: &bundle.Side{
		Path: "../share/prog/prog.selfcompile",
		Bundles: []bundle.SideBundle{
			{Manifest: shared, Offset: 0, Size: 4_000_000, SHA256: sharedSum},
			{Manifest: toolchain, Offset: 4_000_000, Size: 21_000_000, SHA256: toolchainSum},
		},
	}}
	bin, _ := buildEmbedding(t, beside)
	b, err := ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	want := []Bundle{{"shared", 4_000_000, sharedSum}, {"toolchain", 21_000_000, toolchainSum}}
	if b.Placement != "beside" || b.BundleFile != "../share/prog/prog.selfcompile" || !slices.Equal(b.Bundles, want) || b.Toolchain != goos+"/"+goarch {
		t.Errorf("beside: placement %q, file %q, bundles %+v, toolchain %q", b.Placement, b.BundleFile, b.Bundles, b.Toolchain)
	}
	for _, line := range []string{
		"  bundles  beside the executable, in ../share/prog/prog.selfcompile\n",
		"  bundle   shared         4.0 MB sha256 " + sharedSum + "\n",
		"  bundle   toolchain     21.0 MB sha256 " + toolchainSum + "\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("beside: the text lacks %q:\n%s", line, b)
		}
	}

	bin, data := buildEmbedding(t, shared)
	b, err = ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := bundle.TrailerSum(bundle.Trailer(bytes.NewReader(data), int64(len(data))))
	if b.Placement != "embedded" || b.BundleFile != "" || !slices.Equal(b.Bundles, []Bundle{{"shared", int64(len(data)), sum}}) || len(sum) != 64 {
		t.Errorf("embedded: placement %q, file %q, bundles %+v; want the shared bundle of %d bytes, sha256 %s", b.Placement, b.BundleFile, b.Bundles, len(data), sum)
	}
	if !strings.Contains(b.String(), "  bundles  embedded\n") || !strings.Contains(b.String(), "sha256 "+sum) {
		t.Errorf("embedded: the text lacks the placement or the digest:\n%s", b)
	}
}

// inspect shows the process plugins installed beside a binary, from the
// manifest of their directory.
func TestProcessPlugins(t *testing.T) {
	bin, _ := buildEmbedding(t, &bundle.Manifest{Kind: bundle.Shared, MainPackage: "example.com/prog"})
	if b, err := ReadFile(bin); err != nil || len(b.Processes) != 0 || strings.Contains(b.String(), "process") {
		t.Fatalf("without process plugins: %v, %+v", err, b)
	}
	dir := selfcompile.DefaultProcessDir(bin)
	sum := strings.Repeat("ef", 32)
	manifest := `{"plugins":[{"name":"hello","importPath":"example.com/hello","module":"example.com/hello","version":"v1.2.0","sha256":"` + sum + `"}]}`
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, selfcompile.ProcessManifest), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Processes) != 1 || b.Processes[0].Name != "hello" || b.Processes[0].Path != filepath.Join(dir, "hello") {
		t.Errorf("the process plugins: %+v", b.Processes)
	}
	if line := "  process  hello example.com/hello v1.2.0 sha256 " + sum + "\n"; !strings.Contains(b.String(), line) {
		t.Errorf("the text lacks %q:\n%s", line, b)
	}
	link := filepath.Join(t.TempDir(), "prog")
	if err := os.Symlink(bin, link); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadFile(link); err != nil || len(b.Processes) != 1 {
		t.Errorf("through a symlink to the binary: %v, %+v", err, b)
	}
}
