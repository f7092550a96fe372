package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
		if err := sign(json, []string{prefix + ".key"}, out, io.Discard); err != nil {
			t.Fatalf("sign %d: %v", i, err)
		}
	}
	otherNote := filepath.Join(dir, "other.note")
	if err := sign(other, []string{prefix + ".key"}, otherNote, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{prefix + ".key", prefix + ".pub", src, otherNote} {
		before, _ := os.ReadFile(target)
		err := sign(src, []string{prefix + ".key"}, target, io.Discard)
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
	if err := sign(src, []string{prefix + ".key"}, out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	if err := verify(out, []string{prefix + ".pub"}, &stdout); err != nil || strings.ContainsAny(stdout.String(), "\x1b\x07") || !strings.Contains(stdout.String(), `example.com/mytool\x1b]0;pwned\a\x1b[31m`) {
		t.Errorf("verify: %v\n%q; want the catalog's name escaped", err, stdout.String())
	}
}
