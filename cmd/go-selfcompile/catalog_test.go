package main

import (
	"io"
	"os"
	"path/filepath"
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
