package catalog

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func testCatalog(seq int64) *Catalog {
	return &Catalog{Name: "example.com/mytool", Sequence: seq, Date: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Plugins: []Plugin{{
		Name: "metrics", Description: "Prometheus metrics", ImportPath: "example.com/metrics/plugin", Module: "example.com/metrics",
		Versions: []Version{
			{Version: "v1.0.0", Sum: "h1:one="},
			{Version: "v1.1.0", Sum: "h1:two=", Hosts: ">=v2.0.0"},
			{Version: "v1.2.0", Sum: "h1:three=", Hosts: ">=v3.0.0"},
		},
		Revoked: []Revoked{{Version: "v0.9.0", Reason: "CVE-2026-0001"}},
	}}}
}

// A catalog verifies with the key that signed it, or with either of two
// keys during a rotation; a tampered one, or one signed by another key,
// does not.
func TestSignOpen(t *testing.T) {
	oldSigner, oldVerifier, _ := GenerateKey("example.com/mytool")
	newSigner, newVerifier, _ := GenerateKey("example.com/mytool")
	_, otherVerifier, _ := GenerateKey("example.com/mytool")
	signed, err := Sign(testCatalog(3), oldSigner, newSigner)
	if err != nil {
		t.Fatal(err)
	}
	for _, keys := range [][]string{{oldVerifier}, {newVerifier}, {otherVerifier, newVerifier}} {
		c, err := Open(signed, keys)
		if err != nil || c.Sequence != 3 || c.Plugins[0].Name != "metrics" {
			t.Errorf("Open with %d keys: %v", len(keys), err)
		}
	}
	tampered := []byte(strings.Replace(string(signed), "h1:two=", "h1:evil", 1))
	for name, c := range map[string]struct {
		signed []byte
		keys   []string
	}{
		"another key": {signed, []string{otherVerifier}},
		"tampered":    {tampered, []string{oldVerifier}},
		"no note":     {[]byte("{}\n"), []string{oldVerifier}},
	} {
		if _, err := Open(c.signed, c.keys); !errors.Is(err, ErrBadCatalog) {
			t.Errorf("%s: %v, want ErrBadCatalog", name, err)
		}
	}
	bad := testCatalog(1)
	bad.Plugins[0].ImportPath = "example.com/other"
	if _, err := Sign(bad, oldSigner); err == nil {
		t.Error("a plugin whose package is outside its module was signed")
	}
}

// The newest version a host may install: listed, not revoked, fitting
// the host's version; a host of unknown version fits every constraint.
func TestVersions(t *testing.T) {
	p := &testCatalog(1).Plugins[0]
	for host, want := range map[string]string{"v1.5.0": "v1.0.0", "v2.3.0": "v1.1.0", "v3.0.0": "v1.2.0", "": "v1.2.0"} {
		if v, err := p.Newest(host); err != nil || v.Version != want {
			t.Errorf("Newest(%q) = %v, %v; want %s", host, v.Version, err, want)
		}
	}
	if _, err := p.Allowed("v0.9.0", ""); err == nil || !strings.Contains(err.Error(), "CVE-2026-0001") {
		t.Errorf("a revoked version: %v", err)
	}
	if _, err := p.Allowed("v1.2.0", "v2.0.0"); err == nil || !strings.Contains(err.Error(), ">=v3.0.0") {
		t.Errorf("a version for other hosts: %v", err)
	}
	if _, err := p.Allowed("v1.3.0", ""); err == nil {
		t.Error("an unlisted version was allowed")
	}
	for hosts, fits := range map[string]bool{">=v1.0.0 <v2.0.0": true, ">v1.5.0": false, "=v1.5.0": true, "<=v1.4.9": false, "": true} {
		if Fits(hosts, "v1.5.0") != fits {
			t.Errorf("Fits(%q, v1.5.0) = %v", hosts, !fits)
		}
	}
}

// What each policy lets users install that the catalog does not list.
func TestPermit(t *testing.T) {
	module := Unlisted{Spec: "example.com/x@v1.0.0", Module: "example.com/x"}
	mine := Unlisted{Spec: "github.com/myorg/tool", Module: "github.com/myorg/tool"}
	local := Unlisted{Spec: "./plug", Local: true}
	for _, c := range []struct {
		policy Policy
		u      Unlisted
		ask    bool
		rule   string // "" when permitted
	}{
		{Policy{}, module, false, ""},
		{Policy{}, local, false, ""},
		{Policy{Allow: AllowCatalog}, module, false, "catalog"},
		{Policy{Allow: AllowCatalog}, local, false, "catalog"},
		{Policy{Allow: AllowCatalogAndLocal}, local, false, ""},
		{Policy{Allow: AllowCatalogAndLocal}, module, false, "catalog+local"},
		{Policy{Allow: AllowCatalog, Prefixes: []string{"github.com/myorg/"}}, mine, false, ""},
		{Policy{Allow: AllowCatalog}, module, true, "--allow-unlisted"},
		{Policy{}, module, true, ""}, // anything goes: asking changes nothing
		{Policy{Allow: AllowCatalog, Prefixes: []string{"github.com/myorg/*"}}, mine, false, ""},
		{Policy{Allow: AllowCatalog, UserMayAllowUnlisted: true}, module, true, ""},
	} {
		err := c.policy.Permit(c.u, c.ask)
		var re *RefusedError
		switch {
		case c.rule == "" && err != nil:
			t.Errorf("%+v %s: %v", c.policy, c.u.Spec, err)
		case c.rule != "" && (!errors.As(err, &re) || re.Rule != c.rule || !errors.Is(err, ErrNotAllowed)):
			t.Errorf("%+v %s: %v, want refused by %q", c.policy, c.u.Spec, err, c.rule)
		}
	}
}

// A plugin name, which users type and every listing prints, holds no
// control characters or spaces: a catalog with one is refused, and a
// revoked version's reason is given with its control characters escaped.
func TestVendorTextChecked(t *testing.T) {
	signer, _, _ := GenerateKey("example.com/mytool")
	for _, name := range []string{"me\x1b[31mtrics", "metrics\u00a0x", "\u202emetrics"} {
		c := testCatalog(1)
		c.Plugins[0].Name = name
		if _, err := Sign(c, signer); err == nil || strings.ContainsAny(err.Error(), "\x1b\u202e") {
			t.Errorf("plugin name %q: %v; want it refused, escaped", name, err)
		}
	}
	p := testCatalog(1).Plugins[0]
	p.Revoked[0].Reason = "\x1b]0;pwned\x07CVE"
	if _, err := p.Allowed("v0.9.0", ""); err == nil || strings.ContainsAny(err.Error(), "\x1b\x07") || !strings.Contains(err.Error(), `\x1b]0;pwned\aCVE`) {
		t.Errorf("a revoked version: %v; want its reason, escaped", err)
	}
}
