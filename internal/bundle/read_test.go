package bundle

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestSkip reads past a part without writing it, and the next part
// restores; skipping a part that is not next is ErrCorrupt; End passes
// once every part is read, and not before.
func TestSkip(t *testing.T) {
	data := writeSample(t, sampleFiles)
	br, err := Open(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if err := br.Skip(PartModules); !errors.Is(err, ErrCorrupt) {
		t.Errorf("skipping a part that is not next: %v, want ErrCorrupt", err)
	}
	if err := br.Skip(PartSource); err != nil {
		t.Fatal(err)
	}
	if err := br.End(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("End with parts left: %v, want ErrCorrupt", err)
	}
	dir := t.TempDir()
	if err := br.Restore(PartModules, dir, nil); err != nil {
		t.Fatalf("restoring the part after a skipped one: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "cache", "download", "x", "@v", "v1")); err != nil || string(got) != "v1" {
		t.Errorf("the restored file: %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); !os.IsNotExist(err) {
		t.Errorf("a file of the skipped part was written: %v", err)
	}
	if err := br.Skip(PartToolchain); err != nil {
		t.Fatal(err)
	}
	if err := br.End(); err != nil {
		t.Errorf("End after every part: %v", err)
	}
}

// TestLocalPath turns entry names into relative paths under the directory,
// and refuses any that would leave it or are not clean.
func TestLocalPath(t *testing.T) {
	for _, name := range []string{"a", "a/b.go", "cache/download/x/@v/v1.0.0.zip", "..a/b"} {
		got, err := LocalPath(name)
		if err != nil || got != filepath.FromSlash(name) {
			t.Errorf("LocalPath(%q) = %q, %v", name, got, err)
		}
	}
	for _, name := range []string{"", "..", "../a", "a/../../b", "a/../b", "/etc/passwd", "a//b", "./a", "a/", "a/./b"} {
		if got, err := LocalPath(name); err == nil {
			t.Errorf("LocalPath(%q) = %q, want an error", name, got)
		}
	}
}
