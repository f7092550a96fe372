// Package known remembers what was learned by reading a file, keyed by the
// file's identity: its device, inode, size, and modification and change
// times. Writing a file changes its change time, which only the kernel
// sets, so a file whose identity is the remembered one has not been
// written since, and what was learned from it still holds: an install need
// not hash the same bundles again. Where the platform gives no change time
// (Windows), nothing is remembered.
package known

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// ID is a file's identity.
type ID struct {
	Dev, Ino     uint64
	Size         int64
	Mtime, Ctime int64 // nanoseconds
}

// SameContent reports whether a and b are the identities of one file
// whose content cannot have changed between them: only its change time
// differs, as after a rename or a chmod.
func (a ID) SameContent(b ID) bool {
	a.Ctime, b.Ctime = 0, 0
	return a == b
}

// Store is a directory of what is known about files, one file per path.
// The zero Store remembers nothing.
type Store struct{ Dir string }

type entry struct {
	Path  string
	ID    ID
	Value json.RawMessage
}

func (s Store) file(path string) string {
	h := sha256.Sum256([]byte(path))
	return filepath.Join(s.Dir, hex.EncodeToString(h[:12]))
}

// Get decodes into v what Put remembered about the file at path, and
// reports whether it did: only if the file's identity is still id.
func (s Store) Get(path string, id ID, v any) bool {
	if s.Dir == "" || id == (ID{}) {
		return false
	}
	data, err := os.ReadFile(s.file(path))
	var e entry
	if err != nil || json.Unmarshal(data, &e) != nil || e.Path != path || e.ID != id {
		return false
	}
	return json.Unmarshal(e.Value, v) == nil
}

// Put remembers v about the file at path, whose identity was id while v
// was learned. It is best effort: what is not remembered is learned again.
func (s Store) Put(path string, id ID, v any) {
	if s.Dir == "" || id == (ID{}) {
		return
	}
	value, err := json.Marshal(v)
	if err != nil {
		return
	}
	data, _ := json.Marshal(entry{Path: path, ID: id, Value: value})
	if os.MkdirAll(s.Dir, 0o700) == nil {
		fsutil.WriteAtomic(s.file(path), 0o600, func(w io.Writer) error { _, err := w.Write(data); return err })
	}
}
