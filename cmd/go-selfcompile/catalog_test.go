package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/testutil"
)

// keygen writes the secret key private and the public one readable, never
// over a file, and leaves no secret key without its public one.
func TestKeygen(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "vendor")
	if err := keygen("example.com/mytool", prefix, io.Discard); err != nil {
		t.Fatal(err)
	}
	for name, mode := range map[string]os.FileMode{prefix + ".key": 0o600, prefix + ".pub": 0o644} {
		if fi, err := os.Stat(name); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: %v, want mode %v", name, err, mode)
		}
	}
	key, _ := os.ReadFile(prefix + ".key")
	if err := keygen("example.com/mytool", prefix, io.Discard); err == nil {
		t.Error("a second keygen wrote over the keys")
	}
	if again, _ := os.ReadFile(prefix + ".key"); string(again) != string(key) {
		t.Error("a second keygen changed the secret key")
	}

	other := filepath.Join(dir, "other")
	os.WriteFile(other+".pub", []byte("someone's\n"), 0o644)
	if err := keygen("example.com/mytool", other, io.Discard); err == nil {
		t.Error("keygen wrote beside an existing public key")
	}
	if _, err := os.Stat(other + ".key"); !os.IsNotExist(err) {
		t.Errorf("keygen left a secret key without its public one: %v", err)
	}
}

// keygen refuses, before writing anything, a name that a signed note's key
// cannot hold: its keys would fail later with "malformed verifier id".
func TestKeygenName(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"my tool", "example.com/my+tool", "", "tool\x1b[31m"} {
		prefix := filepath.Join(dir, "vendor")
		if err := keygen(name, prefix, io.Discard); err == nil || !strings.Contains(err.Error(), "key name") {
			t.Errorf("keygen %q: %v; want the name refused", name, err)
		}
		if left, _ := os.ReadDir(dir); len(left) > 0 {
			t.Fatalf("keygen %q wrote %v", name, left)
		}
	}
}

// sign -o writes over the signed catalog of the same name (a new version
// of it), and refuses, leaving it as it was, any other file: the signing
// key, the catalog's JSON, another catalog.
func TestSignOutput(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "vendor")
	if err := keygen("example.com/mytool", prefix, io.Discard); err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	src := write("catalog.json", `{"name": "example.com/mytool", "sequence": 1}`)
	other := write("other.json", `{"name": "example.com/other", "sequence": 1}`)
	out := filepath.Join(dir, "catalog.note")
	for i, json := range []string{src, src} { // a new file, then over it
		if err := sign(json, []string{prefix + ".key"}, out, quiet); err != nil {
			t.Fatalf("sign %d: %v", i, err)
		}
	}
	otherNote := filepath.Join(dir, "other.note")
	if err := sign(other, []string{prefix + ".key"}, otherNote, quiet); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{prefix + ".key", prefix + ".pub", src, otherNote} {
		before, _ := os.ReadFile(target)
		err := sign(src, []string{prefix + ".key"}, target, quiet)
		if after, _ := os.ReadFile(target); err == nil || !strings.Contains(err.Error(), "not writing over") || string(after) != string(before) {
			t.Errorf("sign -o %s: %v; want it refused, the file unchanged", filepath.Base(target), err)
		}
	}
}

// verify prints what the vendor wrote with its control characters
// escaped.
func TestVerifyEscaped(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "vendor")
	if err := keygen("example.com/mytool", prefix, io.Discard); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "catalog.json")
	os.WriteFile(src, []byte(`{"name": "example.com/mytool\u001b]0;pwned\u0007\u001b[31m", "sequence": 1}`), 0o600)
	out := filepath.Join(dir, "catalog.note")
	if err := sign(src, []string{prefix + ".key"}, out, quiet); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	if err := verify(out, []string{prefix + ".pub"}, &stdout); err != nil || strings.ContainsAny(stdout.String(), "\x1b\x07") || !strings.Contains(stdout.String(), `example.com/mytool\x1b]0;pwned\a\x1b[31m`) {
		t.Errorf("verify: %v\n%q; want the catalog's name escaped", err, stdout.String())
	}
}

// quiet are sign's options for a test that reads neither output.
var quiet = signOptions{stdout: io.Discard, stderr: io.Discard}

// sign checks each version's h1: hash against the module's files, through
// the vendor's GOPROXY: a wrong one is refused, naming the module and both
// hashes, and no catalog is written; offline, a version the module cache
// lacks is named as not checked.
func TestSignChecksSums(t *testing.T) {
	proxy := t.TempDir()
	at := filepath.Join(proxy, "example.com", "stats", "@v")
	gomod := "module example.com/stats\n\ngo 1.22\n"
	sum := testutil.ModuleZip(t, filepath.Join(at, "v1.0.0.zip"), "example.com/stats", "v1.0.0", map[string]string{"go.mod": gomod, "plugin/p.go": "package plugin\n"})
	testutil.WriteFiles(t, at, map[string]string{"list": "v1.0.0\n", "v1.0.0.info": `{"Version":"v1.0.0"}`, "v1.0.0.mod": gomod})
	t.Setenv("GOPROXY", "file://"+filepath.ToSlash(proxy))
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GOFLAGS", "-modcacherw")
	t.Setenv("GOMODCACHE", t.TempDir())

	dir := t.TempDir()
	prefix := filepath.Join(dir, "vendor")
	if err := keygen("example.com/mytool", prefix, io.Discard); err != nil {
		t.Fatal(err)
	}
	write := func(sum string) string {
		p := filepath.Join(dir, "catalog.json")
		os.WriteFile(p, []byte(`{"name": "example.com/mytool", "sequence": 1, "plugins": [{"name": "stats", "import_path": "example.com/stats/plugin", "module": "example.com/stats", "versions": [{"version": "v1.0.0", "sum": "`+sum+`"}]}]}`), 0o600)
		return p
	}
	out := filepath.Join(dir, "catalog.note")
	wrong := "h1:2kPsZrkhLTcZChM5T+pTiKqMHbdXtEzbfq0A3FZW3oo="
	err := sign(write(wrong), []string{prefix + ".key"}, out, quiet)
	if err == nil || !strings.Contains(err.Error(), "example.com/stats@v1.0.0: the catalog says "+wrong+", its files hash to "+sum) {
		t.Errorf("sign with a wrong hash: %v; want it refused, naming the module and both hashes", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("sign with a wrong hash wrote %s: %v", out, err)
	}
	if err := sign(write(sum), []string{prefix + ".key"}, out, quiet); err != nil {
		t.Errorf("sign with the right hash: %v", err)
	}

	t.Setenv("GOMODCACHE", t.TempDir()) // offline, with a module cache that lacks it
	var stderr strings.Builder
	if err := sign(write(wrong), []string{prefix + ".key"}, out, signOptions{offline: true, stdout: io.Discard, stderr: &stderr}); err != nil || !strings.Contains(stderr.String(), "Not checked (offline, and not in the module cache): example.com/stats@v1.0.0") {
		t.Errorf("sign --offline: %v, %q; want it signed, naming what it did not check", err, stderr.String())
	}
}
