package selfcompile_test

import (
	"errors"
	"io"
	"log"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/catalog"
)

// publishFiles adds the module path@version made of files to the vendor's
// proxy, and notes its hash.
func (v *vendorFixture) publishFiles(path, version string, files map[string]string) {
	src := filepath.Join(tempDir(v.t), "src")
	writeFiles(v.t, src, files)
	writeProxyModule(v.t, v.proxy, path, version, src)
	esc, _ := module.EscapePath(path)
	sum, err := dirhash.HashZip(filepath.Join(v.proxy, esc, "@v", version+".zip"), dirhash.Hash1)
	if err != nil {
		v.t.Fatal(err)
	}
	v.sums[path+"@"+version] = sum
}

// TestCatalogPluginModuleAndPath: a package that the catalog lists comes
// from the module it lists, whatever nested module of the same path a
// proxy serves, or the change is refused, and plugin check reports an
// installed one that does not; a local folder whose module path is under
// the host's is a local folder to the policy, and to plugin check.
func TestCatalogPluginModuleAndPath(t *testing.T) {
	setupE2E(t)
	v := newVendor(t)
	// stats: the catalog's module provides the package, and a nested
	// module of the package's path, which the catalog never hashed, is
	// served too. hollow: the catalog's module lacks the package, which
	// only a nested module has.
	v.publish("stats", "v1.0.0")
	v.publishFiles("example.com/stats/plugin", "v1.0.0", map[string]string{
		"go.mod":    "module example.com/stats/plugin\n\ngo 1.26\n",
		"plugin.go": "package plugin\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(\"not the catalog's stats\") }\n",
	})
	v.publishFiles("example.com/hollow", "v1.0.0", map[string]string{"go.mod": "module example.com/hollow\n\ngo 1.26\n", "other/other.go": "package other\n"})
	v.publishFiles("example.com/hollow/plugin", "v1.0.0", map[string]string{
		"go.mod":    "module example.com/hollow/plugin\n\ngo 1.26\n",
		"plugin.go": "package plugin\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(\"not the catalog's hollow\") }\n",
	})
	cat := v.catalog(2, []string{"v1.0.0", "v1.1.0"})
	for _, name := range []string{"stats", "hollow"} {
		mod := "example.com/" + name
		cat.Plugins = append(cat.Plugins, catalog.Plugin{Name: name, ImportPath: mod + "/plugin", Module: mod,
			Versions: []catalog.Version{{Version: "v1.0.0", Sum: v.sums[mod+"@v1.0.0"]}}})
	}
	v.serve(v.sign(cat))
	t.Setenv("GOPROXY", fileProxy(v.proxy))
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GONOSUMDB", "*")
	target := installedCopy(t)
	sc := selfcompile.SelfCompile{Target: target, LDFlags: e2eLDFlags, CacheDir: filepath.Join(freshCache(t), "go-selfcompile"), ProbeTimeout: 5 * time.Second, Logger: log.New(io.Discard, "", 0)}
	policy := func(a catalog.Allow) selfcompile.SelfCompile {
		s := sc
		s.Vendor = v.config(catalog.Policy{Allow: a})
		return s
	}

	// The catalog's stats is installed, not the nested module.
	if out, err := pluginIn(t, policy(catalog.AllowAnything), "add", "stats"); err != nil {
		t.Fatalf("plugin add stats: %v\n%s", err, out)
	}
	if out := mustRun(t, target); !strings.Contains(out, "stats v1.0.0\n") {
		t.Errorf("after adding stats: %q", out)
	}
	if p, _ := sc.Plugins(); len(p) != 1 || p[0].Module != "example.com/stats" || p[0].Sum != v.sums["example.com/stats@v1.0.0"] {
		t.Errorf("stats recorded as %+v", p)
	}

	// Refused, the binary unchanged: hollow, which only the nested module
	// provides; a folder under the host's module path, which a
	// catalog-only policy refuses as any folder.
	evil := filepath.Join(tempDir(t), "evil")
	writeFiles(t, evil, map[string]string{
		"go.mod":  "module github.com/shazow/go-selfcompile/evil\n\ngo 1.26\n",
		"evil.go": "package evil\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(\"evil activated.\") }\n",
	})
	installed := fileHash(t, target)
	for _, c := range []struct {
		allow catalog.Allow
		args  []string
		says  []string
	}{
		{catalog.AllowCatalog, []string{"add", evil}, []string{"not local folders"}},
		{catalog.AllowCatalogAndLocal, []string{"add", "hollow"}, []string{"example.com/hollow/plugin@v1.0.0", "example.com/hollow,"}},
	} {
		out, err := pluginIn(t, policy(c.allow), c.args...)
		if !errors.Is(err, selfcompile.ErrNotAllowed) {
			t.Errorf("plugin %s under %q: %v, want ErrNotAllowed\n%s", strings.Join(c.args, " "), c.allow, err, out)
		}
		for _, s := range c.says {
			if err != nil && !strings.Contains(err.Error(), s) {
				t.Errorf("plugin %s: %v does not say %q", strings.Join(c.args, " "), err, s)
			}
		}
		if fileHash(t, target) != installed {
			t.Fatalf("plugin %s changed the binary", strings.Join(c.args, " "))
		}
	}

	// plugin check sees the folder under the host's path.
	if out, err := pluginIn(t, policy(catalog.AllowCatalogAndLocal), "add", evil); err != nil {
		t.Fatalf("plugin add of the folder under catalog+local: %v\n%s", err, out)
	}
	out, err := pluginIn(t, policy(catalog.AllowCatalog), "check")
	if !errors.Is(err, selfcompile.ErrNotAllowed) || !strings.Contains(err.Error(), "github.com/shazow/go-selfcompile/evil") || !strings.Contains(err.Error(), "not local folders") {
		t.Errorf("plugin check of a folder under the host's path, under catalog: %v\n%s", err, out)
	}

	// plugin check sees a catalog plugin's package from the nested module,
	// as a program without the catalog installs it.
	if out, err := pluginIn(t, sc, "add", "example.com/stats/plugin@v1.0.0"); err != nil {
		t.Fatalf("plugin add of the nested module without a catalog: %v\n%s", err, out)
	}
	if out := mustRun(t, target); !strings.Contains(out, "not the catalog's stats\n") {
		t.Fatalf("the nested module is not installed: %q", out)
	}
	out, err = pluginIn(t, policy(catalog.AllowAnything), "check")
	if !errors.Is(err, selfcompile.ErrNotAllowed) || !strings.Contains(err.Error(), "example.com/stats/plugin v1.0.0:") || !strings.Contains(err.Error(), "example.com/stats,") {
		t.Errorf("plugin check of the nested module: %v\n%s", err, out)
	}
}
