package selfcompile

import (
	"errors"
	"slices"
	"testing"
)

func TestModuleCandidates(t *testing.T) {
	const main = "github.com/org/tool"
	for _, c := range []struct {
		p    pluginSpec
		want []string
	}{
		{pluginSpec{importPath: "example.com/stats/plugin"}, []string{"example.com/stats/plugin", "example.com/stats", "example.com"}},
		// The module a catalog or the record names is the only one asked.
		{pluginSpec{importPath: "example.com/stats/plugin", modulePath: "example.com/stats"}, []string{"example.com/stats"}},
		// The host module is not asked.
		{pluginSpec{importPath: main + "/plugins/x"}, []string{main + "/plugins/x", main + "/plugins", "github.com/org", "github.com"}},
		{pluginSpec{importPath: "gopkg.in/yaml.v3"}, []string{"gopkg.in/yaml.v3", "gopkg.in"}},
	} {
		if got := moduleCandidates(c.p, main); !slices.Equal(got, c.want) {
			t.Errorf("moduleCandidates(%s) = %q, want %q", c.p.importPath, got, c.want)
		}
	}
}

func TestQueryError(t *testing.T) {
	p := pluginSpec{raw: "example.com/a/b@v1.2.0", importPath: "example.com/a/b", version: "v1.2.0"}
	failed := func(msgs ...string) []queried {
		var out []queried
		for _, m := range msgs {
			out = append(out, queried{Error: &struct{ Err string }{m}})
		}
		return out
	}
	cands := []string{"example.com/a/b", "example.com/a"}
	// The longest path that is not merely absent tells.
	err := queryError(p, cands, failed("example.com/a/b@v1.2.0: reading https://proxy.example/example.com/a/b/@v/v1.2.0.info: 404 Not Found", "example.com/a@v1.2.0: invalid version: unknown revision v1.2.0"))
	var pe *PluginError
	if !errors.As(err, &pe) || pe.Reason != "example.com/a@v1.2.0: invalid version: unknown revision v1.2.0" {
		t.Errorf("a version that one module lacks: %v", err)
	}
	err = queryError(p, cands, failed("example.com/a/b@v1.2.0: module lookup disabled by GOPROXY=off", "example.com/a@v1.2.0: module lookup disabled by GOPROXY=off"))
	var ne *NetworkError
	if !errors.As(err, &ne) || ne.Module != "example.com/a/b" || ne.Version != "v1.2.0" || !slices.Equal(ne.Plugins, []string{p.raw}) {
		t.Errorf("offline: %#v", err)
	}
}

// An upgrade query whose answer is the version the build list has, which
// its author retracted, keeps it; no other query or error does.
func TestRetractedCurrent(t *testing.T) {
	retracted := queried{Path: "example.com/ret", Version: "upgrade", Error: &struct{ Err string }{"example.com/ret@v1.1.0: retracted by module author: a bad release"}}
	if v, ok := retractedCurrent(retracted, "upgrade"); !ok || v != "v1.1.0" {
		t.Errorf("upgrade from a retracted version: %q, %v", v, ok)
	}
	if _, ok := retractedCurrent(retracted, "latest"); ok {
		t.Error("latest keeps a retracted version")
	}
	other := queried{Path: "example.com", Version: "upgrade", Error: &struct{ Err string }{"example.com/ret@v1.1.0: retracted by module author: a bad release"}}
	absentErr := queried{Path: "example.com/ret", Version: "upgrade", Error: &struct{ Err string }{"module example.com/ret: reading file:///p/example.com/ret/@v/list: no such file or directory"}}
	for _, r := range []queried{other, absentErr, {Path: "example.com/ret", Version: "v1.0.0"}} {
		if _, ok := retractedCurrent(r, "upgrade"); ok {
			t.Errorf("%+v keeps a version", r)
		}
	}
}
