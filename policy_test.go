package selfcompile

import (
	"bytes"
	"context"
	"errors"
	"log"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/exe"
)

// devel is a binary built in a checkout: its build records no version,
// and the generator was given hostVersion ("" for none).
func devel(hostVersion string) *exe.File {
	return &exe.File{Build: &debug.BuildInfo{Main: debug.Module{Path: "example.com/mytool", Version: "(devel)"}},
		Shared: &exe.Bundle{Manifest: &bundle.Manifest{MainModule: "example.com/mytool", HostVersion: hostVersion}}}
}

// A catalog of metrics v1.0.0, for every host, and v1.1.0, for hosts of
// v9.0.0 and later.
func hostsCatalog(t *testing.T) *catalog.Config {
	signer, verifier, err := catalog.GenerateKey("example.com/mytool")
	if err != nil {
		t.Fatal(err)
	}
	signed, err := catalog.Sign(&catalog.Catalog{Name: "example.com/mytool", Sequence: 1, Date: time.Now(), Plugins: []catalog.Plugin{{
		Name: "metrics", ImportPath: "example.com/metrics/plugin", Module: "example.com/metrics",
		Versions: []catalog.Version{{Version: "v1.0.0", Sum: "h1:one="}, {Version: "v1.1.0", Sum: "h1:two=", Hosts: ">=v9.0.0"}},
	}}}, signer)
	if err != nil {
		t.Fatal(err)
	}
	return &catalog.Config{Name: "example.com/mytool", Keys: []string{verifier}, Embedded: signed}
}

// A program that records no version offers catalog versions whose host
// constraints cannot be checked, and says so; given to the generator
// (--host-version, in the shared bundle's manifest), the version is the
// one the constraints are checked against.
func TestHostVersionFromGenerator(t *testing.T) {
	for _, c := range []struct {
		generated, want string
		says            bool
	}{
		{"", "v1.1.0", true},
		{"v8.0.0", "v1.0.0", false},
		{"v9.1.0", "v1.1.0", false},
	} {
		var logged bytes.Buffer
		sc := &SelfCompile{Vendor: hostsCatalog(t), Logger: log.New(&logged, "", 0)}
		bin := devel(c.generated)
		v, err := sc.loadVendor(context.Background(), bin, buildRecord{}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		in := &resolution{layout: &layout{run: &run{c: sc, bin: bin}}, vendor: v, plugins: []pluginSpec{{raw: "metrics", importPath: "example.com/metrics/plugin", isNew: true}}}
		if err := in.applyVendor(); err != nil || in.plugins[0].version != c.want {
			t.Errorf("--host-version %q: add metrics: %v, version %q; want %s", c.generated, err, in.plugins[0].version, c.want)
		}
		if said := strings.Contains(logged.String(), "records no version of its own"); said != c.says {
			t.Errorf("--host-version %q: logged %q; want the unknown host version said: %v", c.generated, logged.String(), c.says)
		}
	}
}

// A catalog server whose certificate this machine does not trust is not
// reported as a want of network (ErrNeedsNetwork, exit 4): the error
// names the certificate.
func TestLoadVendorUntrustedServer(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	cfg := hostsCatalog(t)
	cfg.Embedded, cfg.URL = nil, srv.URL+"/catalog.note"
	sc := &SelfCompile{Vendor: cfg, Logger: log.New(&bytes.Buffer{}, "", 0)}
	_, err := sc.loadVendor(context.Background(), devel(""), buildRecord{}, t.TempDir())
	if errors.Is(err, ErrNeedsNetwork) || !errors.Is(err, catalog.ErrUntrustedServer) || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("an untrusted catalog server: %v; want catalog.ErrUntrustedServer naming the certificate, not ErrNeedsNetwork", err)
	}
}
