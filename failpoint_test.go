package selfcompile_test

import (
	"bytes"
	"debug/buildinfo"
	"os"
	"strings"
	"testing"
)

// A host built as make example-abinary builds it carries no failpoint
// code: no symbol of internal/failpoint and not the variable's name, and
// its build settings do not name failpointTag. The same host built with
// failpointTag, as the tests that stop installs build theirs, carries
// both: the check sees them where they are.
func TestNoFailpointsInHost(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	for _, c := range []struct {
		name, bin string
		want      bool
	}{
		{"default build", e2e.abinary, false},
		{"built with " + failpointTag, failpointHost(t), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			tags := buildTags(t, c.bin)
			syms := failpointSymbols(t, c.bin)
			data, err := os.ReadFile(c.bin)
			if err != nil {
				t.Fatal(err)
			}
			hasEnv := bytes.Contains(data, []byte("GO_SELFCOMPILE_FAILPOINT"))
			if strings.Contains(tags, failpointTag) != c.want || (len(syms) > 0) != c.want || hasEnv != c.want {
				t.Errorf("tags %q, the variable's name in the binary %v, failpoint symbols %q; want failpoints %v", tags, hasEnv, syms, c.want)
			}
		})
	}
}

// buildTags returns the -tags setting recorded in the binary at bin.
func buildTags(t *testing.T, bin string) string {
	t.Helper()
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bi.Settings {
		if s.Key == "-tags" {
			return s.Value
		}
	}
	return ""
}

// failpointSymbols returns the symbols of internal/failpoint in the binary
// at bin, as go tool nm lists them; it fails the test unless nm lists the
// library's own, which every host links.
func failpointSymbols(t *testing.T, bin string) []string {
	t.Helper()
	out, err := command(".", nil, "go", "tool", "nm", bin)
	if err != nil {
		t.Fatalf("go tool nm: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte(" github.com/shazow/go-selfcompile.")) {
		t.Fatalf("go tool nm lists no symbol of package selfcompile in %s:\n%.2000s", bin, out)
	}
	var syms []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "go-selfcompile/internal/failpoint.") {
			syms = append(syms, strings.TrimSpace(line))
		}
	}
	return syms
}
