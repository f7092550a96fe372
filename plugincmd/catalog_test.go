package plugincmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/catalog"
)

// osc sets a terminal's title, and red colours what follows.
const osc, red = "\x1b]0;pwned\x07", "\x1b[31m"

func hostilePlugin() catalog.Plugin {
	return catalog.Plugin{Name: "metrics", Description: osc + "metrics" + red, Tier: red + "official", ImportPath: "example.com/metrics/plugin", Module: "example.com/metrics",
		Versions: []catalog.Version{{Version: "v1.0.0", Sum: "h1:one=" + red}, {Version: "v1.1.0", Sum: "h1:two=", Hosts: ">=v9.0.0"}},
		Revoked:  []catalog.Revoked{{Version: "v0.9.0", Reason: osc + "leaks credentials"}}}
}

// What a vendor wrote in its catalog reaches the terminal with its
// control characters escaped, in plugin search, info and check.
func TestCatalogTextEscaped(t *testing.T) {
	p := hostilePlugin()
	var out bytes.Buffer
	writeSearch(&out, []catalog.Plugin{p}, "v9.1.0", 1)
	writeInfo(&out, &p, "v9.1.0")
	reason, _ := p.RevokedReason("v0.9.0")
	out.WriteString(problemsError([]catalog.Problem{{Plugin: p.ImportPath, Version: "v0.9.0", Reason: "revoked: " + reason}, {Reason: osc}}).Error())
	if strings.ContainsAny(out.String(), "\x1b\x07") {
		t.Errorf("control characters printed:\n%q", out.String())
	}
	for _, want := range []string{`\x1b]0;pwned\ametrics\x1b[31m`, `tier     \x1b[31mofficial`, `revoked  v0.9.0: \x1b]0;pwned\aleaks credentials`, `h1:one=\x1b[31m`, `v0.9.0: revoked: \x1b]0;pwned\aleaks`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output does not show %s:\n%s", want, out.String())
		}
	}
}

// A program that records no version says, in plugin search and info, that
// the catalog's host constraints are not checked, and how its vendor can
// name the version; one whose version is known says nothing of it.
func TestUnknownHostSaid(t *testing.T) {
	p := hostilePlugin()
	for _, host := range []string{"", "v9.1.0"} {
		var stdout, stderr bytes.Buffer
		cmd := &Command{Name: "mytool", Stdout: &stdout, Stderr: &stderr}
		cmd.unknownHost(host, p)
		writeInfo(&stdout, &p, host)
		said := strings.Contains(stderr.String(), "mytool records no version of its own") && strings.Contains(stderr.String(), "--host-version") &&
			strings.Contains(stdout.String(), "v1.1.0 h1:two=  (for versions >=v9.0.0 of the program; this one's is unknown)")
		if said != (host == "") {
			t.Errorf("host version %q: said the host's version is unknown: %v\n%s%s", host, said, stderr.String(), stdout.String())
		}
	}
}

// plugin info says that a catalog's process plugin is one, and how to
// install it.
func TestInfoProcessKind(t *testing.T) {
	p := catalog.Plugin{Name: "greetp", Kind: catalog.KindProcess, ImportPath: "example.com/greetp/cmd/greetp", Module: "example.com/greetp", Versions: []catalog.Version{{Version: "v1.0.0", Sum: "h1:x="}}}
	var out bytes.Buffer
	writeInfo(&out, &p, "")
	if want := "  kind     process plugin: a program of its own (plugin add --process greetp)\n"; !strings.Contains(out.String(), want) {
		t.Errorf("info lacks %q:\n%s", want, out.String())
	}
}
