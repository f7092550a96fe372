//go:build unix

package known

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestKnown: what is remembered about a file holds while the file is
// unchanged, and after a rename or chmod only if the caller asks for its
// content (SameContent); any write makes it unknown again.
func TestKnown(t *testing.T) {
	dir := t.TempDir()
	s := Store{Dir: filepath.Join(dir, "known")}
	p := filepath.Join(dir, "file")
	os.WriteFile(p, []byte("bundles"), 0o600)
	id := OfPath(p)
	if id == (ID{}) {
		t.Fatal("no identity")
	}
	var v []int
	if s.Get(p, id, &v) {
		t.Fatal("known before Put")
	}
	s.Put(p, id, []int{1, 2})
	if !s.Get(p, OfPath(p), &v) || len(v) != 2 {
		t.Fatalf("not known after Put: %v", v)
	}
	if (Store{}).Get(p, id, &v) {
		t.Error("the zero Store remembered")
	}
	time.Sleep(10 * time.Millisecond) // past the file system's time granularity
	f, _ := os.OpenFile(p, os.O_WRONLY, 0)
	f.WriteAt([]byte("B"), 0) // same size, in place
	f.Close()
	if s.Get(p, OfPath(p), &v) {
		t.Error("still known after a write in place")
	}
	s.Put(p, OfPath(p), []int{3})
	before := OfPath(p)
	q := filepath.Join(dir, "renamed")
	os.Rename(p, q)
	os.Chmod(q, 0o700)
	after := OfPath(q)
	if !after.SameContent(before) {
		t.Errorf("a rename and a chmod changed the content identity: %+v, %+v", before, after)
	}
	if s.Get(q, after, &v) {
		t.Error("known under a path it was not put for")
	}
	os.WriteFile(q, []byte("bundleX"), 0o600)
	if OfPath(q).SameContent(after) {
		t.Error("a write kept the content identity")
	}
}
