package selfcompile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/stub"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

func TestSpecRejectsInjection(t *testing.T) {
	for _, s := range testutil.Injections {
		if _, err := parseSpec(s); !errors.Is(err, ErrInvalidPlugin) {
			t.Errorf("parseSpec(%q) = %v, want ErrInvalidPlugin", s, err)
		}
	}
}

// The record of a binary without plugins is the generator's, so that a
// rebuild without plugins reproduces the original program.
func TestEmptyRecord(t *testing.T) {
	for _, rec := range []buildRecord{{}, {Plugins: []PluginInfo{}}} {
		if got := recordJSON(rec); got != stub.EmptyRecord {
			t.Errorf("record %+v is %s, want %s", rec, got, stub.EmptyRecord)
		}
	}
}

func TestParseSpec(t *testing.T) {
	mod := t.TempDir()
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/local\n\ngo 1.26\n"), 0o644)
	os.MkdirAll(filepath.Join(mod, "sub", "pkg"), 0o755)
	os.WriteFile(filepath.Join(mod, "p.go"), []byte("package local\n"), 0o644)
	os.WriteFile(filepath.Join(mod, "sub", "pkg", "p.go"), []byte("package pkg\n"), 0o644)
	notMod := t.TempDir()
	os.WriteFile(filepath.Join(notMod, "p.go"), []byte("package p\n"), 0o644)

	good := []struct{ in, path, version string }{
		{"example.com/plugin", "example.com/plugin", ""},
		{"example.com/plugin@v1.2.3", "example.com/plugin", "v1.2.3"},
		{"example.com/plugin/v2@v2.0.0-rc.1", "example.com/plugin/v2", "v2.0.0-rc.1"},
		{"example.com/plugin@latest", "example.com/plugin", "latest"},
		{"example.com/plugin@v0.0.0-20260101000000-0123456789ab", "example.com/plugin", "v0.0.0-20260101000000-0123456789ab"},
		{"example.com/plugin@0123456789abcdef", "example.com/plugin", "0123456789abcdef"},
		{mod, "example.com/local", ""},
		{filepath.Join(mod, "sub", "pkg"), "example.com/local/sub/pkg", ""},
	}
	for _, c := range good {
		sp, err := parseSpec(c.in)
		if err != nil {
			t.Errorf("parseSpec(%q): %v", c.in, err)
			continue
		}
		if sp.importPath != c.path || sp.version != c.version {
			t.Errorf("parseSpec(%q) = %q@%q, want %q@%q", c.in, sp.importPath, sp.version, c.path, c.version)
		}
	}
	bad := map[string]string{
		"":                             "empty",
		"example.com/plugin@v1":        "full semantic version",
		"example.com/plugin@1.2.3":     "invalid version",
		"example.com/plugin@master;rm": "invalid version",
		"example.com/plugin@":          "invalid version",
		"-flag":                        "not a valid import path",
		"example.com/../etc":           "not a valid import path",
		notMod:                         "not inside a Go module",
		filepath.Join(mod, "missing"):  "not found",
		filepath.Join(mod, "go.mod"):   "not a directory",
	}
	for in, want := range bad {
		_, err := parseSpec(in)
		if !errors.Is(err, ErrInvalidPlugin) || !strings.Contains(err.Error(), want) {
			t.Errorf("parseSpec(%q) = %v, want ErrInvalidPlugin saying %q", in, err, want)
		}
	}
}
