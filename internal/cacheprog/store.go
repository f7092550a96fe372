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

type store struct{ dir string }

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
	err := writeFile(path, func(w io.Writer) error {
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
	return writeFile(s.file(action, "a"), func(w io.Writer) error {
		_, err := io.WriteString(w, line)
		return err
	})
}

// adopt stores the output of an action that another cache program wrote
// at path: a hard link to it where the file system allows, else a copy,
// and in either case only once its content is checked as put checks it. A
// cache program replaces or removes its files, never writes into them, so
// the link stays what was checked.
func (s store) adopt(action, output []byte, size int64, path string) error {
	if len(output) != idSize {
		return fmt.Errorf("an output ID of %d bytes", len(output))
	}
	dst := s.file(output, "d")
	tmp := fmt.Sprintf("%s.tmp-%x", dst, action[:8])
	os.MkdirAll(filepath.Dir(dst), 0o777)
	os.Remove(tmp) // what a killed proxy left
	if os.Link(path, tmp) != nil {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = s.put(action, output, size, f)
		return err
	}
	defer os.Remove(tmp) // nothing once renamed
	if err := checkFile(tmp, output, size); err != nil {
		return err
	}
	if err := os.Rename(tmp, dst); err != nil {
		return err
	}
	return s.index(action, output, size)
}

// checkFile checks that the file at name hashes to output and is size
// bytes long.
func checkFile(name string, output []byte, size int64) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return checkOutput(f, output, size)
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
func writeFile(name string, write func(io.Writer) error) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o777); err != nil {
		return err
	}
	return fsutil.WriteAtomic(name, 0o600, write)
}
