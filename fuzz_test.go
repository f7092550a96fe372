package selfcompile

import (
	"bytes"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzBundleReader feeds arbitrary bytes to the bundle reader: it must
// fail cleanly or restore, and never write outside the directory it is
// given.
func FuzzBundleReader(f *testing.F) {
	good := writeSample(f, sampleFiles)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("\x28\xb5\x2f\xfd"))
	for _, i := range []int{10, 100, len(good) / 3} {
		b := bytes.Clone(good)
		b[i] ^= 0xff
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "root")
		os.Mkdir(dir, 0o755)
		checkTrailer(string(data)) // must not panic
		br, err := openBundle(bytes.NewReader(data))
		if err != nil {
			return
		}
		var declared int64
		for _, p := range br.Manifest.Parts {
			declared += p.Size
		}
		br.Close()
		if declared < 0 || declared > 1<<20 {
			return // a restore writes up to what the manifest declares, which Compile checks the disk has room for
		}
		if err := restoreAll(data, dir); err == nil {
			return
		}
		entries, _ := os.ReadDir(parent)
		if len(entries) != 1 {
			t.Fatalf("the reader wrote outside its directory: %v", entries)
		}
	})
}

// FuzzParseSpec feeds arbitrary plugin names to the spec parser: whatever
// it accepts must give a stub that is valid Go and imports exactly that
// path, and nothing else.
func FuzzParseSpec(f *testing.F) {
	for _, s := range append(injections, "example.com/plugin", "example.com/plugin@v1.2.3", "github.com/a/b/v2@latest", "fmt", "a/b/c@0123abc") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if isLocalSpec(s) {
			return // a path on this machine, not a name
		}
		sp, err := parseSpec(s)
		if err != nil {
			return
		}
		src, err := renderStub(buildRecord{Plugins: []PluginInfo{{ImportPath: sp.importPath, Version: sp.version}}})
		if err != nil {
			t.Fatalf("accepted %q but the stub refused it: %v", s, err)
		}
		file, err := parser.ParseFile(token.NewFileSet(), StubFile, src, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("stub for %q does not parse: %v\n%s", s, err, src)
		}
		var got []string
		for _, imp := range file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			got = append(got, p)
		}
		if want := "embed " + libraryPath + " " + sp.importPath; strings.Join(got, " ") != want {
			t.Fatalf("stub for %q imports %q", s, got)
		}
	})
}
