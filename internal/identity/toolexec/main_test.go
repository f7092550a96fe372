package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
)

// importcfg returns a link's importcfg whose modinfo line holds info, as
// the go command writes it.
func importcfg(info *debug.BuildInfo) []byte {
	return []byte("# import config\npackagefile fmt=/cache/fmt.a\nmodinfo " + strconv.Quote(string(infoStart)+info.String()+string(infoEnd)) + "\npackagefile os=/cache/os.a\n")
}

// parse reads the build info back from an importcfg.
func parse(t *testing.T, icfg []byte) *debug.BuildInfo {
	t.Helper()
	for _, line := range bytes.Split(icfg, []byte("\n")) {
		if q, ok := bytes.CutPrefix(line, []byte("modinfo ")); ok {
			s, err := strconv.Unquote(string(q))
			if err != nil {
				t.Fatal(err)
			}
			info, err := debug.ParseBuildInfo(strings.TrimSuffix(strings.TrimPrefix(s, string(infoStart)), string(infoEnd)))
			if err != nil {
				t.Fatal(err)
			}
			return info
		}
	}
	t.Fatal("no modinfo line")
	return nil
}

func rebuiltInfo() *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "example.com/host/cmd/host",
		Main:      debug.Module{Path: "example.com/host", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "example.com/lib", Version: "v0.0.0", Replace: &debug.Module{Path: "/tmp/install-123/lib", Version: "(devel)"}},
			{Path: "example.com/moved", Version: "v1.0.0", Sum: "h1:a=", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1", Sum: "h1:b="}},
		},
		Settings: []debug.BuildSetting{{Key: "-buildmode", Value: "exe"}, {Key: "vcs.revision", Value: ""}},
	}
}

// TestEdit writes the identity into the importcfg's modinfo: the main
// module's version and sum, the release's directory for a module that a
// directory replaces (not for one a module replaces), and each setting in
// place of the one of its key or after the others; the other lines stay.
func TestEdit(t *testing.T) {
	id := identity{
		Version:  "v1.2.0",
		Sum:      "h1:release=",
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}},
		Replaced: map[string]string{"example.com/lib": "../lib", "example.com/moved": "../moved"},
	}
	in := importcfg(rebuiltInfo())
	out, err := edit(in, id)
	if err != nil {
		t.Fatal(err)
	}
	info := parse(t, out)
	if info.Main.Version != "v1.2.0" || info.Main.Sum != "h1:release=" {
		t.Errorf("main module %+v", info.Main)
	}
	if r := info.Deps[0].Replace; r.Path != "../lib" {
		t.Errorf("the directory replacement is %s, want the release's ../lib", r.Path)
	}
	if r := info.Deps[1].Replace; r.Path != "example.com/fork" || r.Version != "v1.0.1" {
		t.Errorf("a module replacement was changed: %+v", r)
	}
	var settings []string
	for _, s := range info.Settings {
		settings = append(settings, s.Key+"="+s.Value)
	}
	if got := strings.Join(settings, " "); got != "-buildmode=exe vcs.revision=abc123 vcs.modified=false" {
		t.Errorf("settings %s", got)
	}
	inLines, outLines := strings.Split(string(in), "\n"), strings.Split(string(out), "\n")
	if len(inLines) != len(outLines) || inLines[1] != outLines[1] || inLines[3] != outLines[3] {
		t.Errorf("the other lines changed:\n%s", out)
	}

	unchanged := parse(t, must(edit(in, identity{})))
	if unchanged.Main.Version != "(devel)" || unchanged.Deps[0].Replace.Path != "/tmp/install-123/lib" {
		t.Errorf("an empty identity changed the build info: %+v", unchanged.Main)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// TestEditRefuses an importcfg without a modinfo line, or with one that is
// not the go command's.
func TestEditRefuses(t *testing.T) {
	for name, icfg := range map[string]string{
		"no modinfo":        "packagefile fmt=/cache/fmt.a\n",
		"not quoted":        "modinfo plain text\n",
		"without markers":   "modinfo " + strconv.Quote("path\texample.com/x\n") + "\n",
		"only a start mark": "modinfo " + strconv.Quote(string(infoStart)) + "\n",
	} {
		if _, err := edit([]byte(icfg), identity{Version: "v1.0.0"}); err == nil {
			t.Errorf("%s: edited", name)
		}
	}
}

// TestRewrite edits the importcfg the link's arguments name, in either
// form; a link without one is left alone; a missing or malformed identity
// file is an error.
func TestRewrite(t *testing.T) {
	dir := t.TempDir()
	idFile := filepath.Join(dir, "identity.json")
	os.WriteFile(idFile, []byte(`{"version":"v2.0.0","sum":"h1:x="}`), 0o644)
	for _, form := range []func(string) []string{
		func(p string) []string { return []string{"-o", "out", "-importcfg", p, "main.a"} },
		func(p string) []string { return []string{"-o", "out", "-importcfg=" + p, "main.a"} },
	} {
		cfg := filepath.Join(t.TempDir(), "importcfg.link")
		os.WriteFile(cfg, importcfg(rebuiltInfo()), 0o644)
		if err := rewrite(idFile, form(cfg)); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(cfg)
		if info := parse(t, data); info.Main.Version != "v2.0.0" {
			t.Errorf("%q: main version %s", form(cfg), info.Main.Version)
		}
	}
	if err := rewrite(filepath.Join(dir, "missing.json"), []string{"-V=full"}); err != nil {
		t.Errorf("a link without an importcfg: %v", err)
	}
	cfg := filepath.Join(dir, "importcfg.link")
	os.WriteFile(cfg, importcfg(rebuiltInfo()), 0o644)
	if err := rewrite(filepath.Join(dir, "missing.json"), []string{"-importcfg", cfg}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing identity file: %v, want fs.ErrNotExist", err)
	}
	os.WriteFile(idFile, []byte("{"), 0o644)
	if err := rewrite(idFile, []string{"-importcfg", cfg}); err == nil {
		t.Error("a malformed identity file was used")
	}
	if data, _ := os.ReadFile(cfg); !bytes.Equal(data, importcfg(rebuiltInfo())) {
		t.Error("a failed rewrite changed the importcfg")
	}
}

// TestIsLink knows the linker by its name, with or without .exe.
func TestIsLink(t *testing.T) {
	for tool, want := range map[string]bool{
		filepath.Join("go", "pkg", "tool", "linux_amd64", "link"): true,
		`link.exe`: true,
		filepath.Join("go", "pkg", "tool", "linux_amd64", "compile"): false,
		"linker": false,
		"ld":     false,
	} {
		if got := isLink(tool); got != want {
			t.Errorf("isLink(%q) = %v", tool, got)
		}
	}
}

// TestVersionKept answers a tool's -V=full from the answer kept of its
// first run, until the tool's program (its Go build ID, whatever its size
// and time) or the GOOS, GOARCH or GOEXPERIMENT it would see change; an
// answer that is not a version line passes through, with the tool's exit
// code, and is not kept.
func TestVersionKept(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the tool is a shell script")
	}
	dir, bin := t.TempDir(), t.TempDir()
	tool, runs := filepath.Join(bin, "compile"), filepath.Join(bin, "runs")
	// writeTool writes a tool that prints line, with a Go build ID where
	// a program has it, and the time of the tool before it.
	writeTool := func(buildID, line string, code int) {
		t.Helper()
		fi, statErr := os.Stat(tool)
		script := fmt.Sprintf("#!/bin/sh\n# \xff Go build ID: %q\n \xff\necho run >>%s\necho '%s'\nexit %d\n", buildID, runs, line, code)
		if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		if statErr == nil {
			os.Chtimes(tool, fi.ModTime(), fi.ModTime())
		}
	}
	ran := func() int {
		data, _ := os.ReadFile(runs)
		return bytes.Count(data, []byte("run\n"))
	}
	ask := func(want string, wantCode, wantRuns int) {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := version(dir, tool, &out, &errOut); code != wantCode || out.String() != want+"\n" {
			t.Errorf("version: %q, exit %d; want %q, exit %d", out.String(), code, want, wantCode)
		}
		if ran() != wantRuns {
			t.Errorf("the tool ran %d times, want %d", ran(), wantRuns)
		}
	}
	t.Setenv("GOEXPERIMENT", "")
	writeTool("aaaa/bbbb", "compile version go1.26.8", 0)
	ask("compile version go1.26.8", 0, 1)
	ask("compile version go1.26.8", 0, 1) // kept
	t.Setenv("GOEXPERIMENT", "boringcrypto")
	ask("compile version go1.26.8", 0, 2) // the same tool, asked again with other experiments
	t.Setenv("GOEXPERIMENT", "")
	writeTool("aaaa/cccc", "compile version go1.26.9", 0) // the same size and time
	ask("compile version go1.26.9", 0, 3)
	ask("compile version go1.26.9", 0, 3)

	writeTool("aaaa/dddd", "compile: unknown flag", 2)
	ask("compile: unknown flag", 2, 4)
	ask("compile: unknown flag", 2, 5) // not kept
	kept, _ := filepath.Glob(filepath.Join(dir, "version-*"))
	if len(kept) != 3 {
		t.Errorf("kept %q, want the three version lines", kept)
	}
}
