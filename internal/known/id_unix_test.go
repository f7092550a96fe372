//go:build unix

package known

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOf: an open file's identity is that of its path while the path names
// it; another file's differs; a file that cannot be stat'ed (closed, or a
// path with nothing at it) has the zero ID; OfPath does not follow a final
// symlink.
func TestOf(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "file")
	os.WriteFile(p, []byte("content"), 0o600)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	id := Of(f)
	if id == (ID{}) || id != OfPath(p) {
		t.Errorf("Of = %+v, OfPath = %+v; want the same, not zero", id, OfPath(p))
	}
	if id.Size != int64(len("content")) {
		t.Errorf("Size = %d", id.Size)
	}
	other := filepath.Join(dir, "other")
	os.WriteFile(other, []byte("content"), 0o600)
	if OfPath(other).SameContent(id) {
		t.Error("another file with the same bytes has the same identity")
	}
	link := filepath.Join(dir, "link")
	if os.Symlink(p, link) == nil && OfPath(link).SameContent(id) {
		t.Error("OfPath followed a symlink")
	}
	f.Close()
	if got := Of(f); got != (ID{}) {
		t.Errorf("Of a closed file = %+v, want zero", got)
	}
	if got := OfPath(filepath.Join(dir, "missing")); got != (ID{}) {
		t.Errorf("OfPath of nothing = %+v, want zero", got)
	}
}
