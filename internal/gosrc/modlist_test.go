package gosrc

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

// What go list -m all prints for a host that replaces a module by a
// directory and another by a fork.
const modList = `example.com/host
example.com/lib v1.0.0 => ../lib
github.com/spf13/pflag v1.1.0
golang.org/x/sys v0.49.0 => github.com/fork/sys v0.49.1-fork
`

func TestParseModList(t *testing.T) {
	l, err := ParseModList(strings.Split(modList, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := BuildList{
		"example.com/host":       {Path: "example.com/host", Main: true},
		"example.com/lib":        {Path: "example.com/lib", Version: "v1.0.0", Replace: &module.Version{Path: "../lib"}},
		"github.com/spf13/pflag": {Path: "github.com/spf13/pflag", Version: "v1.1.0"},
		"golang.org/x/sys":       {Path: "golang.org/x/sys", Version: "v0.49.0", Replace: &module.Version{Path: "github.com/fork/sys", Version: "v0.49.1-fork"}},
	}
	if !reflect.DeepEqual(l, want) {
		t.Errorf("ParseModList =\n%v\nwant\n%v", l, want)
	}
	if got := strings.Join(l.Lines(), "\n") + "\n"; got != modList {
		t.Errorf("Lines =\n%s\nwant\n%s", got, modList)
	}
	cached := map[string]string{}
	for p, m := range l {
		if mv, ok := m.Cached(); ok {
			cached[p] = mv.String()
		}
	}
	if want := map[string]string{"github.com/spf13/pflag": "github.com/spf13/pflag@v1.1.0", "golang.org/x/sys": "github.com/fork/sys@v0.49.1-fork"}; !reflect.DeepEqual(cached, want) {
		t.Errorf("cached = %v, want %v", cached, want)
	}
	if _, err := ParseModList([]string{"example.com/host", "a b c"}); err == nil {
		t.Error("a malformed line was accepted")
	}
}
