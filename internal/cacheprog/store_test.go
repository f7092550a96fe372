package cacheprog

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// outputOf returns an action ID and the output ID and bytes of content.
func outputOf(action, content string) (a, o []byte) {
	ah := sha256.Sum256([]byte(action))
	oh := sha256.Sum256([]byte(content))
	return ah[:], oh[:]
}

// TestStorePutGet: an output put under its action is got back, with its
// size, from a file holding it, in the go command's layout; an output that
// does not hash to its ID, or is not its size, is refused and not
// indexed; an action never put, or whose output file is gone or cut, is
// not there.
func TestStorePutGet(t *testing.T) {
	dir := t.TempDir()
	s, release := openStore(dir)
	defer release()
	action, output := outputOf("compile fmt", "object code")
	path, err := s.put(action, output, int64(len("object code")), strings.NewReader("object code"))
	if err != nil {
		t.Fatal(err)
	}
	e, ok := s.get(action)
	if !ok || e.path != path || e.size != int64(len("object code")) || !bytes.Equal(e.output, output) {
		t.Fatalf("get = %+v, %v", e, ok)
	}
	if data, _ := os.ReadFile(path); string(data) != "object code" {
		t.Errorf("the output file holds %q", data)
	}
	if !fsutil.Within(path, dir) || !strings.HasSuffix(path, "-d") {
		t.Errorf("the output is at %s, not in the cache's layout", path)
	}

	other, _ := outputOf("compile os", "")
	for name, c := range map[string]struct {
		content string
		size    int64
	}{
		"other bytes":    {"tampered", int64(len("object code"))},
		"a wrong size":   {"object code", 3},
		"a longer input": {"object code and more", int64(len("object code"))},
	} {
		if _, err := s.put(other, output, c.size, strings.NewReader(c.content)); !errors.Is(err, errMismatch) {
			t.Errorf("%s: %v, want errMismatch", name, err)
		}
		if _, ok := s.get(other); ok {
			t.Errorf("%s: the action was indexed", name)
		}
	}
	if _, err := s.put(other, output[:5], 11, strings.NewReader("object code")); err == nil {
		t.Error("an output ID of the wrong length was accepted")
	}

	os.Truncate(path, 3)
	if _, ok := s.get(action); ok {
		t.Error("an entry whose output was cut short is there")
	}
	os.Remove(path)
	if _, ok := s.get(action); ok {
		t.Error("an entry whose output is gone is there")
	}
}

// TestStoreMarksUsed: getting an entry whose files are older than the go
// command's interval marks them used, so that trimming keeps them; a
// recent one is left as it is.
func TestStoreMarksUsed(t *testing.T) {
	dir := t.TempDir()
	s, release := openStore(dir)
	defer release()
	action, output := outputOf("link", "binary")
	path, err := s.put(action, output, 6, strings.NewReader("binary"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	index := s.file(action, "a")
	for _, p := range []string{path, index} {
		os.Chtimes(p, old, old)
	}
	if _, ok := s.get(action); !ok {
		t.Fatal("not there")
	}
	for _, p := range []string{path, index} {
		if fi, _ := os.Stat(p); time.Since(fi.ModTime()) > time.Hour {
			t.Errorf("%s was not marked used (%v)", p, fi.ModTime())
		}
	}
	recent := time.Now().Add(-time.Minute).Truncate(time.Second)
	os.Chtimes(path, recent, recent)
	s.get(action)
	if fi, _ := os.Stat(path); !fi.ModTime().Equal(recent) {
		t.Errorf("a file used a minute ago was touched again: %v", fi.ModTime())
	}
}

// TestOpenStore: a store writes its temporary files in a directory of its
// own, gone on release, and not taken by a second store meanwhile; it
// removes what killed go-betweens left, in its temporary root and (from
// earlier versions, the first time) beside the cache's files.
func TestOpenStore(t *testing.T) {
	dir := t.TempDir()
	oldTemp := filepath.Join(dir, "ab", "abcdef-d.tmp-123")
	os.MkdirAll(filepath.Dir(oldTemp), 0o755)
	os.WriteFile(oldTemp, nil, 0o600)
	kept := filepath.Join(dir, "ab", "abcdef-d")
	os.WriteFile(kept, nil, 0o600)

	s, release := openStore(dir)
	if s.tmp == "" || !fsutil.IsDir(s.tmp) || !fsutil.Within(s.tmp, dir) {
		t.Fatalf("the store's temporary directory: %q", s.tmp)
	}
	if fsutil.Exists(oldTemp) || !fsutil.Exists(kept) {
		t.Errorf("an earlier version's temporary file there: %v; the cache's file there: %v", fsutil.Exists(oldTemp), fsutil.Exists(kept))
	}
	s2, release2 := openStore(dir)
	if !fsutil.IsDir(s.tmp) || s2.tmp == s.tmp {
		t.Error("a second store took the running one's temporary directory")
	}
	release2()
	release()
	for _, p := range []string{s.tmp, s2.tmp} {
		if fsutil.Exists(p) {
			t.Errorf("release left %s", p)
		}
	}

	killed := filepath.Join(dir, tmpRoot, tmpPrefix+"killed")
	os.MkdirAll(killed, 0o700)
	os.WriteFile(filepath.Join(killed, "half-written"), nil, 0o600)
	os.WriteFile(killed+".lock", nil, 0o600) // its lock, free: the go-between is gone
	s3, release3 := openStore(dir)
	defer release3()
	if fsutil.Exists(killed) {
		t.Error("a killed go-between's temporary directory is still there")
	}
	if !fsutil.IsDir(s3.tmp) {
		t.Error("no temporary directory")
	}
}
