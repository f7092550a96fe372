package spec

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"strconv"
	"testing"

	"github.com/shazow/go-selfcompile/internal/stub"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

// FuzzSplit feeds arbitrary plugin names to the spec parser: whatever it
// accepts must give a stub that is valid Go and imports exactly that path,
// and nothing else, with the name and version in the record it embeds.
// It lives in this small package so that make test's fuzz build
// instruments little besides it.
func FuzzSplit(f *testing.F) {
	for _, s := range append(testutil.Injections, "example.com/plugin", "example.com/plugin@v1.2.3", "github.com/a/b/v2@latest", "fmt", "a/b/c@0123abc") {
		f.Add(s)
	}
	bundlePkg := "example.com/host/selfcompilebundle"
	f.Fuzz(func(t *testing.T, s string) {
		if IsLocal(s) {
			return // a path on this machine, not a name
		}
		path, version, err := Split(s)
		if err != nil {
			return
		}
		type plugin struct {
			Path    string `json:"path"`
			Version string `json:"version,omitempty"`
		}
		rec, _ := json.Marshal(map[string][]plugin{"plugins": {{path, version}}})
		src, err := stub.Main(bundlePkg, []string{path}, string(rec), true)
		if err != nil {
			t.Fatalf("accepted %q but the stub refused it: %v", s, err)
		}
		file, err := parser.ParseFile(token.NewFileSet(), stub.MainFile, src, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("stub for %q does not parse: %v\n%s", s, err, src)
		}
		var got []string
		for _, imp := range file.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p != "embed" && p != stub.HookPath && p != bundlePkg {
				got = append(got, p)
			}
		}
		if len(got) != 1 || got[0] != path {
			t.Fatalf("stub for %q imports %q besides the library", s, got)
		}
	})
}
