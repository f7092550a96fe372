package selfcompile_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/plugincmd"
)

// vendorFixture is a vendor with a key, a module proxy of plugins, and a
// catalog server.
type vendorFixture struct {
	t                *testing.T
	proxy            string
	signer, verifier string
	sums             map[string]string // module@version -> h1:
	date             time.Time         // of every catalog: a sequence number has one content
	forged           string            // a proxy that serves a go.mod that is not the one in the module's files
	mu               sync.Mutex
	served           []byte
	srv              *httptest.Server
}

// publish adds a plugin module, whose package example.com/NAME/plugin
// prints "NAME VERSION", to the proxy and returns its zip's hash.
func (v *vendorFixture) publish(name, version string) {
	mod := "example.com/" + name
	v.publishFiles(mod, version, map[string]string{
		"go.mod":           "module " + mod + "\n\ngo 1.26\n",
		"plugin/plugin.go": "package plugin\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(\"" + name + " " + version + "\") }\n",
		"other/other.go":   "package other\n",
	})
}

// catalog returns a catalog of the given sequence number listing metrics
// at versions, with revoked versions, and swapped, listed with another
// module's hash.
func (v *vendorFixture) catalog(seq int64, versions []string, revoked ...catalog.Revoked) *catalog.Catalog {
	p := catalog.Plugin{Name: "metrics", Description: "metrics for the example", Tier: "official", ImportPath: "example.com/metrics/plugin", Module: "example.com/metrics", Revoked: revoked}
	for _, ver := range versions {
		p.Versions = append(p.Versions, catalog.Version{Version: ver, Sum: v.sums["example.com/metrics@"+ver]})
	}
	swapped := catalog.Plugin{Name: "swapped", ImportPath: "example.com/swapped/plugin", Module: "example.com/swapped",
		Versions: []catalog.Version{{Version: "v1.0.0", Sum: v.sums["example.com/metrics@v1.0.0"]}}}
	return &catalog.Catalog{Name: "example.com/abinary", Sequence: seq, Date: v.date, Plugins: []catalog.Plugin{p, swapped}}
}

func (v *vendorFixture) sign(c *catalog.Catalog, signers ...string) []byte {
	if len(signers) == 0 {
		signers = []string{v.signer}
	}
	signed, err := catalog.Sign(c, signers...)
	if err != nil {
		v.t.Fatal(err)
	}
	return signed
}

func (v *vendorFixture) serve(signed []byte) {
	v.mu.Lock()
	v.served = signed
	v.mu.Unlock()
}

func newVendor(t *testing.T) *vendorFixture {
	v := &vendorFixture{t: t, proxy: filepath.Join(tempDir(t), "proxy"), sums: map[string]string{}, date: time.Now().UTC().Truncate(time.Second)}
	var err error
	if v.signer, v.verifier, err = catalog.GenerateKey("example.com/abinary"); err != nil {
		t.Fatal(err)
	}
	for _, ver := range []string{"v1.0.0", "v1.1.0", "v1.2.0"} {
		v.publish("metrics", ver)
	}
	v.publish("unlisted", "v1.0.0")
	v.publish("swapped", "v1.0.0")
	// bringer, not listed, requires a version of metrics the catalog does
	// not list: minimal version selection would raise metrics to it.
	bringer := filepath.Join(tempDir(t), "bringer")
	writeFiles(t, bringer, map[string]string{"go.mod": "module example.com/bringer\n\ngo 1.26\n\nrequire example.com/metrics v1.2.0\n",
		"b.go": "package bringer\n\nimport _ \"example.com/metrics/plugin\"\n"})
	writeProxyModule(t, v.proxy, "example.com/bringer", "v1.0.0", bringer)
	// A proxy that serves metrics v1.0.0's files as they are, and another
	// go.mod beside them, which minimal version selection would read.
	v.forged = filepath.Join(tempDir(t), "forged")
	copyTree(t, v.proxy, v.forged)
	os.WriteFile(filepath.Join(v.forged, "example.com", "metrics", "@v", "v1.0.0.mod"), []byte("module example.com/metrics\n\ngo 1.26\n\nrequire example.com/unlisted v1.0.0\n"), 0o644)
	v.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v.mu.Lock()
		defer v.mu.Unlock()
		w.Write(v.served)
	}))
	t.Cleanup(v.srv.Close)
	return v
}

// config is the program's catalog configuration: the vendor's key, its
// catalog server, the catalog of release time embedded, and a policy.
func (v *vendorFixture) config(policy catalog.Policy) *catalog.Config {
	return &catalog.Config{Name: "example.com/abinary", Keys: []string{v.verifier}, URL: v.srv.URL + "/catalog.note",
		Embedded: v.sign(v.catalog(1, []string{"v1.0.0", "v1.1.0"})), Policy: policy, Client: v.srv.Client()}
}

// plugin runs the plugin command in this process with sc, and returns
// what it printed.
func pluginIn(t *testing.T, sc selfcompile.SelfCompile, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := &plugincmd.Command{SelfCompile: sc, Name: "example-abinary", Stdout: &out, Stderr: io.Discard}
	err := cmd.Run(context.Background(), args)
	return out.String(), err
}

// TestVendorCatalog: a vendor's signed catalog, fetched from its server
// or embedded in the program, names the plugins users install, under a
// policy that refuses what it forbids before building; installed plugins
// record where they came from; plugin check, sync and list --lock.
func TestVendorCatalog(t *testing.T) {
	setupE2E(t)
	v := newVendor(t)
	v.serve(v.sign(v.catalog(2, []string{"v1.0.0", "v1.1.0"})))
	t.Setenv("GOPROXY", fileProxy(v.proxy))
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GONOSUMDB", "*") // the catalog's hash holds whatever these say
	target := installedCopy(t)
	sc := selfcompile.SelfCompile{Target: target, LDFlags: e2eLDFlags, CacheDir: filepath.Join(freshCache(t), "go-selfcompile"), ProbeTimeout: 5 * time.Second, Logger: log.New(io.Discard, "", 0),
		Vendor: v.config(catalog.Policy{Allow: catalog.AllowCatalog})}

	// Online, through the vendor's server: search, info, add by name.
	if out, err := pluginIn(t, sc, "search", "metr"); err != nil || !strings.Contains(out, "metrics") || !strings.Contains(out, "example.com/metrics/plugin") {
		t.Fatalf("plugin search: %v\n%s", err, out)
	}
	if out, err := pluginIn(t, sc, "info", "metrics"); err != nil || !strings.Contains(out, "version  v1.1.0 "+v.sums["example.com/metrics@v1.1.0"]) {
		t.Fatalf("plugin info: %v\n%s", err, out)
	}
	if out, err := pluginIn(t, sc, "add", "metrics"); err != nil {
		t.Fatalf("plugin add metrics: %v\n%s", err, out)
	}
	if out := mustRun(t, target); !strings.Contains(out, "metrics v1.1.0\n") {
		t.Fatalf("after adding metrics: %q", out)
	}
	plugins, _ := sc.Plugins()
	if len(plugins) != 1 || plugins[0].Origin != "catalog" || plugins[0].Name != "metrics" || plugins[0].Catalog != 2 || plugins[0].Sum != v.sums["example.com/metrics@v1.1.0"] {
		t.Errorf("the provenance recorded: %+v", plugins)
	}
	if out, err := command(e2e.work, nil, e2e.gen, "inspect", target); err != nil || !strings.Contains(string(out), "plugin   example.com/metrics/plugin v1.1.0 "+v.sums["example.com/metrics@v1.1.0"]+" (catalog)") {
		t.Errorf("inspect: %v\n%s", err, out)
	}

	// Refused, each before building, the binary unchanged.
	installed := unchanged(t, target)
	local := plugin(t, map[string]string{"go.mod": "module example.com/localplug\n\ngo 1.26\n", "p.go": "package localplug\n"})
	tampered := bytes.Replace(v.sign(v.catalog(3, []string{"v1.0.0", "v1.1.0", "v1.2.0"})), []byte(`"v1.2.0"`), []byte(`"v1.2.1"`), 1)
	fork := filepath.Join(tempDir(t), "fork")
	writeFiles(t, fork, map[string]string{"go.mod": "module example.com/metrics\n\ngo 1.26\n", "plugin/plugin.go": "package plugin\n"})
	for _, c := range []struct {
		name   string
		served []byte
		policy catalog.Policy
		args   []string
		want   error
		says   string
		proxy  string // another module proxy, with a cache of its own
	}{
		{"a tampered catalog", tampered, catalog.Policy{}, []string{"search"}, selfcompile.ErrBadCatalog, "invalid signature", ""},
		{"another key's catalog", v.sign(v.catalog(3, []string{"v1.2.0"}), mustKey(t)), catalog.Policy{}, []string{"add", "metrics"}, selfcompile.ErrBadCatalog, "no verifiable signatures", ""},
		{"an older catalog", v.sign(v.catalog(1, []string{"v1.0.0"})), catalog.Policy{}, []string{"add", "metrics@v1.0.0"}, selfcompile.ErrBadCatalog, "a rollback", ""},
		{"an unlisted module", nil, catalog.Policy{Allow: catalog.AllowCatalog}, []string{"add", "example.com/unlisted/plugin@v1.0.0"}, selfcompile.ErrNotAllowed, "(catalog)", ""},
		{"a listed module with another hash", nil, catalog.Policy{Allow: catalog.AllowCatalog}, []string{"add", "swapped"}, selfcompile.ErrNotAllowed, "(catalog hash)", ""},
		{"a local folder", nil, catalog.Policy{Allow: catalog.AllowCatalog}, []string{"add", local}, selfcompile.ErrNotAllowed, "not local folders", ""},
		{"--allow-unlisted", nil, catalog.Policy{Allow: catalog.AllowCatalog}, []string{"add", "--allow-unlisted", "example.com/unlisted/plugin@v1.0.0"}, selfcompile.ErrNotAllowed, "(--allow-unlisted)", ""},
		{"an unlisted version", nil, catalog.Policy{Allow: catalog.AllowCatalog}, []string{"add", "metrics@v1.2.0"}, selfcompile.ErrNotAllowed, "does not list metrics v1.2.0", ""},
		{"another package of a listed module", nil, catalog.Policy{}, []string{"add", "example.com/metrics/other@v1.2.0"}, selfcompile.ErrNotAllowed, "the build would use example.com/metrics@v1.2.0", ""},
		{"a listed module raised by another", nil, catalog.Policy{}, []string{"add", "example.com/bringer@v1.0.0"}, selfcompile.ErrNotAllowed, "the build would use example.com/metrics@v1.2.0", ""},
		{"a folder that is a listed module", nil, catalog.Policy{}, []string{"add", fork + "/plugin"}, selfcompile.ErrNotAllowed, "is one the catalog lists", ""},
		{"a go.mod served apart from its files", nil, catalog.Policy{}, []string{"add", "metrics@v1.0.0"}, selfcompile.ErrNotAllowed, "is not the one in its files", v.forged},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.served != nil {
				v.serve(c.served)
				defer v.serve(v.sign(v.catalog(2, []string{"v1.0.0", "v1.1.0"})))
			}
			s := sc
			s.Vendor = v.config(c.policy)
			if c.proxy != "" {
				t.Setenv("GOPROXY", fileProxy(c.proxy))
				s.CacheDir = filepath.Join(freshCache(t), "go-selfcompile")
			}
			out, err := pluginIn(t, s, c.args...)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) || plugincmd.ExitCode(err) == 0 {
				t.Errorf("plugin %s: %v, want %v saying %q\n%s", strings.Join(c.args, " "), err, c.want, c.says, out)
			}
			installed()
		})
	}

	// Admitted though unlisted, by the vendor's prefixes or by
	// --allow-unlisted where its policy permits it, under catalog-only: the
	// module such a plugin brings in is not the catalog's to vouch for. A
	// dry run, whose plan comes after every check.
	for name, c := range map[string]struct {
		policy catalog.Policy
		args   []string
	}{
		"a module under a prefix": {catalog.Policy{Allow: catalog.AllowCatalog, Prefixes: []string{"example.com/unlisted"}}, []string{"add", "--dry-run", "example.com/unlisted/plugin@v1.0.0"}},
		"--allow-unlisted":        {catalog.Policy{Allow: catalog.AllowCatalog, UserMayAllowUnlisted: true}, []string{"add", "--dry-run", "--allow-unlisted", "example.com/unlisted/plugin@v1.0.0"}},
	} {
		s := sc
		s.Vendor = v.config(c.policy)
		if out, err := pluginIn(t, s, c.args...); err != nil || !strings.Contains(out, "example.com/unlisted/plugin") {
			t.Errorf("%s: plugin %s: %v\n%s", name, strings.Join(c.args, " "), err, out)
		}
	}
	installed()

	// Offline, with the catalog of release time alone (this machine's
	// cached catalog removed): search, and add by name.
	if out, err := pluginIn(t, sc, "remove", "example.com/metrics/plugin"); err != nil {
		t.Fatalf("plugin remove: %v\n%s", err, out)
	}
	os.RemoveAll(filepath.Join(sc.CacheDir, "catalogs"))
	t.Setenv("GOPROXY", "off")
	if out, err := pluginIn(t, sc, "search"); err != nil || !strings.Contains(out, "metrics") {
		t.Fatalf("plugin search offline: %v\n%s", err, out)
	}
	if out, err := pluginIn(t, sc, "add", "metrics"); err != nil {
		t.Fatalf("plugin add metrics offline: %v\n%s", err, out)
	}
	if p, _ := sc.Plugins(); len(p) != 1 || p[0].Catalog != 1 || p[0].Version != "v1.1.0" {
		t.Errorf("offline, from the embedded catalog: %+v", p)
	}

	// A revoked version fails plugin check, and upgrade moves off it.
	t.Setenv("GOPROXY", fileProxy(v.proxy))
	v.serve(v.sign(v.catalog(3, []string{"v1.0.0", "v1.2.0"}, catalog.Revoked{Version: "v1.1.0", Reason: "leaks credentials"})))
	out, err := pluginIn(t, sc, "check")
	if !errors.Is(err, selfcompile.ErrNotAllowed) || plugincmd.ExitCode(err) != plugincmd.ExitRefused || !strings.Contains(err.Error(), "example.com/metrics/plugin v1.1.0: revoked: leaks credentials") {
		t.Fatalf("plugin check with a revoked version: %v\n%s", err, out)
	}
	if out, err := pluginIn(t, sc, "upgrade"); err != nil {
		t.Fatalf("plugin upgrade: %v\n%s", err, out)
	}
	if out, err := pluginIn(t, sc, "check"); err != nil {
		t.Fatalf("plugin check after the upgrade: %v\n%s", err, out)
	}
	if out := mustRun(t, target); !strings.Contains(out, "metrics v1.2.0\n") {
		t.Fatalf("after the upgrade: %q", out)
	}

	// plugin sync: the set that is installed changes nothing; another set
	// is one rebuild; a wrong hash is refused.
	sc.Vendor = v.config(catalog.Policy{Allow: catalog.AllowCatalogAndLocal})
	lock, err := pluginIn(t, sc, "list", "--lock")
	if err != nil || !strings.Contains(lock, "example.com/metrics/plugin@v1.2.0 "+v.sums["example.com/metrics@v1.2.0"]) {
		t.Fatalf("plugin list --lock: %v\n%s", err, lock)
	}
	lockFile := filepath.Join(tempDir(t), "plugins.lock")
	os.WriteFile(lockFile, []byte(lock), 0o644)
	synced := unchanged(t, target)
	if out, err := pluginIn(t, sc, "sync", lockFile); err != nil || !strings.Contains(out, "Nothing to do") {
		t.Fatalf("plugin sync of the installed set: %v\n%s", err, out)
	}
	synced()
	writePlugin(t, local, "example.com/localplug", "localplug activated.")
	os.WriteFile(lockFile, []byte("metrics@v1.0.0\n"+local+"\n"), 0o644)
	builds := 0
	s := sc
	s.Progress = func(e selfcompile.Event) {
		if e.Stage == selfcompile.StageBuild && e.Done {
			builds++
		}
	}
	if out, err := pluginIn(t, s, "sync", lockFile); err != nil || builds != 1 {
		t.Fatalf("plugin sync of another set: %v, %d builds\n%s", err, builds, out)
	}
	if out := mustRun(t, target); out != "localplug activated.\nmetrics v1.0.0\nJust doing binary things\n" {
		t.Fatalf("after the sync: %q", out)
	}
	changed := unchanged(t, target)
	os.WriteFile(lockFile, []byte("example.com/metrics/plugin@v1.2.0 h1:d3JvbmcgaGFzaA==\n"), 0o644)
	if out, err := pluginIn(t, sc, "sync", lockFile); !errors.Is(err, selfcompile.ErrInvalidPlugin) || !strings.Contains(err.Error(), "the change expects h1:d3JvbmcgaGFzaA==") {
		t.Fatalf("plugin sync with a wrong hash: %v\n%s", err, out)
	}
	changed()
}

func mustKey(t *testing.T) string {
	signer, _, err := catalog.GenerateKey("example.com/abinary")
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// The vendor's signing hook runs on the new binary, before its probe and
// the swap: the installed binary is the signed one. A failing hook leaves
// the binary as it was.
func TestSignHook(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := installedCopy(t)
	var signed, verifyStarted time.Time
	sc := installer(t, target)
	sc.Sign = func(ctx context.Context, path string) error {
		signed = time.Now()
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteString("signed by the test's vendor")
		return err
	}
	sc.Progress = func(e selfcompile.Event) {
		if e.Stage == selfcompile.StageVerify && !e.Done {
			verifyStarted = time.Now()
		}
	}
	sc.Plugin(aplugin)
	if err := sc.Compile(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(target)
	if !bytes.HasSuffix(data, []byte("signed by the test's vendor")) || signed.IsZero() || !signed.Before(verifyStarted) {
		t.Errorf("the installed binary is not the signed one, or it was signed after its probe (signed %v, probe %v)", signed, verifyStarted)
	}
	if out := mustRun(t, target); !strings.Contains(out, "aplugin activated.") {
		t.Errorf("the signed binary: %q", out)
	}
	unchangedBin := unchanged(t, target)
	sc = installer(t, target)
	sc.Sign = func(context.Context, string) error { return errors.New("the signing service is down") }
	sc.Plugin(plugin(t, map[string]string{"go.mod": "module example.com/more\n\ngo 1.26\n", "p.go": "package more\n"}))
	if err := sc.Compile(); !errors.Is(err, selfcompile.ErrSign) || !strings.Contains(err.Error(), "the signing service is down") {
		t.Fatalf("a failing hook: %v", err)
	}
	unchangedBin()
	onlyBeside(t, target, 1)
}

// A catalog that cannot be fetched, with none at hand, is an error of its
// real cause: a server that cannot be reached needs the network (exit
// code 4); a location that holds no catalog does not, and says what is
// wrong. The binary is unchanged either way.
func TestCatalogCannotBeFetched(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	_, verifier, _ := catalog.GenerateKey("example.com/abinary")
	closed := httptest.NewTLSServer(http.NotFoundHandler())
	closed.Close()
	target := installedCopy(t)
	check := unchanged(t, target)
	for _, c := range []struct {
		url              string
		network, missing bool
		says             string
	}{
		{closed.URL + "/catalog.note", true, false, "cannot be fetched"},
		{filepath.Join(tempDir(t), "catalog.note"), false, true, "the program's catalog URL is wrong"},
	} {
		sc := installer(t, target)
		sc.Vendor = &catalog.Config{Name: "example.com/abinary", Keys: []string{verifier}, URL: c.url}
		_, err := sc.Plan(context.Background(), selfcompile.Change{Add: []string{aplugin}})
		if errors.Is(err, selfcompile.ErrNeedsNetwork) != c.network || errors.Is(err, catalog.ErrMissing) != c.missing || err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("catalog at %s: %v; want network %v, missing %v, saying %q", c.url, err, c.network, c.missing, c.says)
		}
		if code := plugincmd.ExitCode(err); (code == plugincmd.ExitNetwork) != c.network {
			t.Errorf("catalog at %s: exit code %d", c.url, code)
		}
	}
	check()
}
