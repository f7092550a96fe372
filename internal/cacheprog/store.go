package cacheprog

// The local cache, in the go command's own format (cmd/go/internal/cache):
// so builds with and without a shared cache, and the warm cache a bundle
// carries, are one cache, and trimming it works as for any.

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/lockfile"
)

const (
	idSize = sha256.Size
	// An action's entry file, <dir>/<xx>/<action>-a, is "v1 <action>
	// <output> <size> <unixnano>\n", the numbers padded to 20 bytes; its
	// output is <dir>/<xx>/<output>-d.
	entrySize = 2 + 1 + 2*idSize + 1 + 2*idSize + 1 + 20 + 1 + 20 + 1
	// The go command marks a file used when it is older than this.
	usedInterval = time.Hour
)

// errMismatch is an output that is not what its ID says.
var errMismatch = errors.New("its content does not hash to its output ID")

// store is a build cache; tmp, where it is not "", is the directory of
// this go-between's temporary files (see openStore), else they go beside
// the files they become.
type store struct{ dir, tmp string }

// tmpRoot, in a build cache, holds a directory of temporary files for each
// go-between that writes to it, locked while it runs (package lockfile):
// so the next one to start finds and removes what a killed one left.
const tmpRoot = ".cacheprog-tmp"

// openStore returns the build cache at dir with a temporary directory of
// its own, after removing what killed go-betweens left, and the function
// that removes that directory.
func openStore(dir string) (store, func()) {
	root := filepath.Join(dir, tmpRoot)
	if !fsutil.Exists(root) {
		removeOldTemps(dir)
	}
	lockfile.RemoveStale(root, tmpPrefix)
	tmp, release, err := lockfile.TempDir(root, tmpPrefix)
	if err != nil {
		return store{dir: dir}, func() {} // temporary files beside, as before
	}
	return store{dir: dir, tmp: tmp}, func() {
		fsutil.RemoveAll(tmp)
		release()
	}
}

const tmpPrefix = "p-"

// removeOldTemps removes the temporary files that earlier versions, which
// wrote them beside the cache's files, left when they were killed: their
// names have ".tmp-", which the go command's files never have.
func removeOldTemps(dir string) {
	subs, _ := filepath.Glob(filepath.Join(lockfile.GlobEscape(dir), "[0-9a-f][0-9a-f]"))
	for _, sub := range subs {
		names, _ := os.ReadDir(sub)
		for _, e := range names {
			if strings.Contains(e.Name(), ".tmp-") {
				os.Remove(filepath.Join(sub, e.Name()))
			}
		}
	}
}

type entry struct {
	output []byte
	size   int64
	time   time.Time
	path   string // the output's file
}

func (s store) file(id []byte, kind string) string {
	h := hex.EncodeToString(id)
	return filepath.Join(s.dir, h[:2], h+"-"+kind)
}

// get returns the entry of an action, if its output is there.
func (s store) get(action []byte) (entry, bool) {
	name := s.file(action, "a")
	data, err := os.ReadFile(name)
	f := strings.Fields(string(data))
	if err != nil || len(data) != entrySize || len(f) != 5 || f[0] != "v1" || f[1] != hex.EncodeToString(action) {
		return entry{}, false
	}
	var e entry
	e.output, err = hex.DecodeString(f[2])
	size, serr := strconv.ParseInt(f[3], 10, 64)
	nsec, terr := strconv.ParseInt(f[4], 10, 64)
	if err != nil || serr != nil || terr != nil || len(e.output) != idSize {
		return entry{}, false
	}
	e.size, e.time, e.path = size, time.Unix(0, nsec), s.file(e.output, "d")
	if fi, err := os.Stat(e.path); err != nil || fi.Size() != size {
		return entry{}, false
	}
	used(name)
	used(e.path)
	return e, true
}

// used marks a file as used, as the go command does, so that trimming
// keeps it.
func used(name string) {
	if fi, err := os.Stat(name); err == nil && time.Since(fi.ModTime()) > usedInterval {
		now := time.Now()
		os.Chtimes(name, now, now)
	}
}

// put stores the output of an action, read from r: its content must hash
// to output and be size bytes long. It returns the output's file.
func (s store) put(action, output []byte, size int64, r io.Reader) (string, error) {
	if len(output) != idSize {
		return "", fmt.Errorf("an output ID of %d bytes", len(output))
	}
	path := s.file(output, "d")
	err := s.writeFile(path, func(w io.Writer) error {
		return checkOutput(io.TeeReader(r, w), output, size)
	})
	if err != nil {
		return "", err
	}
	return path, s.index(action, output, size)
}

// index writes the entry of an action whose output is stored.
func (s store) index(action, output []byte, size int64) error {
	line := fmt.Sprintf("v1 %x %x %20d %20d\n", action, output, size, time.Now().UnixNano())
	return s.writeFile(s.file(action, "a"), func(w io.Writer) error {
		_, err := io.WriteString(w, line)
		return err
	})
}

// adopt stores a copy of the output of an action that another cache
// program wrote at path, checked as put checks what it stores: the file
// is that program's, which may rewrite it later, so the local cache never
// links to it. Only a regular file is read, never through a symlink, and
// at most size bytes and one more; the read stops once stop is closed.
func (s store) adopt(action, output []byte, size int64, path string, stop <-chan struct{}) error {
	if free, err := fsutil.DiskFree(s.dir); err == nil && size > 0 && uint64(size) > free {
		return fmt.Errorf("it claims an output of %d bytes, and %s has %d free", size, s.dir, free)
	}
	f, err := openOutput(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = s.put(action, output, size, stopReader{io.LimitReader(f, size+1), stop})
	return err
}

// openOutput opens the file of another cache program's output: a regular
// file, not a symlink, a device or a FIFO (which would block a read
// forever), and still the one at path once open.
func openOutput(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%v)", path, fi.Mode().Type())
	}
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	if !fsutil.IsFileAt(f, path) {
		f.Close()
		return nil, fmt.Errorf("%s was replaced while it was opened", path)
	}
	return f, nil
}

// errStopped is a read given up: the shared cache was dropped meanwhile.
var errStopped = errors.New("the read was given up")

// stopReader reads r until stop is closed (never, for a nil stop).
type stopReader struct {
	r    io.Reader
	stop <-chan struct{}
}

func (s stopReader) Read(p []byte) (int, error) {
	select {
	case <-s.stop:
		return 0, errStopped
	default:
	}
	return s.r.Read(p)
}

// checkOutput reads r to its end and checks that it hashes to output and
// is size bytes long.
func checkOutput(r io.Reader, output []byte, size int64) error {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err == nil && (n != size || string(h.Sum(nil)) != string(output)) {
		err = errMismatch
	}
	return err
}

// writeFile writes a file atomically, so that the go commands reading the
// cache see the old file or the new one. A cache is not synced: a file
// lost in a crash is compiled again.
func (s store) writeFile(name string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		return err
	}
	if s.tmp != "" {
		return fsutil.WriteAtomicVia(s.tmp, name, 0o600, write)
	}
	return fsutil.WriteAtomic(name, 0o600, write)
}
