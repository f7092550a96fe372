package selfcompile

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/mod/module"
)

const sampleSum = `github.com/spf13/pflag v1.1.0 h1:aaaa=
github.com/spf13/pflag v1.1.0/go.mod h1:bbbb=
golang.org/x/sys v0.49.0/go.mod h1:cccc=
example.com/only v1.0.0 h1:dddd=
`

func TestGoModSums(t *testing.T) {
	want := []module.Version{{Path: "github.com/spf13/pflag", Version: "v1.1.0"}, {Path: "golang.org/x/sys", Version: "v0.49.0"}}
	if got := goModSums(sampleSum); !reflect.DeepEqual(got, want) {
		t.Errorf("goModSums = %v, want %v", got, want)
	}
	wantZip := map[string]string{"github.com/spf13/pflag v1.1.0": "h1:aaaa=", "example.com/only v1.0.0": "h1:dddd="}
	if got := goSums(sampleSum); !reflect.DeepEqual(got, wantZip) {
		t.Errorf("goSums = %v, want %v", got, wantZip)
	}
}

func TestAppendLines(t *testing.T) {
	name := filepath.Join(t.TempDir(), "go.sum")
	os.WriteFile(name, []byte("a 1 h1:x\nb 2 h1:y"), 0o644)
	if err := appendLines(name, "b 2 h1:y\nc 3 h1:z\nc 3 h1:z\n"); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(name); string(got) != "a 1 h1:x\nb 2 h1:y\nc 3 h1:z\n" {
		t.Errorf("go.sum = %q", got)
	}
}
