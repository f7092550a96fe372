//go:build unix

package cacheprog

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/lockfile"
)

// sendWithin is send, failing the test if no answer comes within d.
func (g *goCommand) sendWithin(req request, d time.Duration) response {
	g.t.Helper()
	g.enc.Encode(req)
	got := make(chan response, 1)
	go func() {
		var res response
		g.dec.Decode(&res)
		got <- res
	}()
	select {
	case res := <-got:
		if res.ID != req.ID {
			g.t.Fatalf("answer to %+v: %+v", req, res)
		}
		return res
	case <-time.After(d):
		g.t.Fatalf("no answer to a %s within %v", req.Command, d)
		return response{}
	}
}

// localOutput is where the local cache keeps the fake shared cache's
// output.
func (g *goCommand) localOutput() string {
	return store{dir: g.cfg.Dir}.file(id(output), "d")
}

// TestRemoteOutputNotRegular: a shared cache that answers a get with a
// FIFO, a device that never ends, or a symlink (to the right content) is
// a miss within the time bound of the call, and dropped with a note
// saying why; the local cache holds nothing of it, and /dev/zero wrote
// nothing into it.
func TestRemoteOutputNotRegular(t *testing.T) {
	for _, c := range []struct {
		name, mode string
		make       func(out string) error
		want       string
	}{
		{"fifo", "path", func(out string) error { return syscall.Mkfifo(out, 0o600) }, "is not a regular file (p---------)"},
		{"device", "zero", nil, "/dev/zero is not a regular file (Dc---------)"},
		{"symlink", "path", func(out string) error {
			real := out + ".real"
			if err := os.WriteFile(real, []byte(output), 0o600); err != nil {
				return err
			}
			return os.Symlink(real, out)
		}, "is not a regular file (L---------)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := startConfig(t, c.mode, Config{Timeout: time.Second})
			if c.make != nil {
				if err := c.make(filepath.Join(filepath.Dir(g.cfg.Dir), "out")); err != nil {
					t.Fatal(err)
				}
			}
			start := time.Now()
			if res := g.sendWithin(request{ID: 1, Command: "get", ActionID: id("a")}, 5*time.Second); !res.Miss {
				t.Fatalf("get: %+v", res)
			}
			if d := time.Since(start); d > 2*g.cfg.Timeout {
				t.Errorf("the get took %v with a timeout of %v", d, g.cfg.Timeout)
			}
			g.close()
			if n := g.note(); !strings.Contains(n, "returned an output that cannot be used") || !strings.Contains(n, c.want) {
				t.Errorf("note %q, want %q", n, c.want)
			}
			if fsutil.Exists(g.localOutput()) {
				t.Errorf("the local cache holds %s", g.localOutput())
			}
			if n := fsutil.DirSize(g.cfg.Dir); n > 1<<20 {
				t.Errorf("the local cache holds %d bytes", n)
			}
		})
	}
}

// TestAdoptedOutputIsACopy: the output of the shared cache, and one of the
// seed, is copied into the local cache, not linked: rewriting the other
// program's file in place afterwards leaves what the local cache holds.
func TestAdoptedOutputIsACopy(t *testing.T) {
	rewrite := func(t *testing.T, name string) {
		f, err := os.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte(strings.ToUpper(output)), 0); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, local, other string) {
		if fsutil.SameFile(local, other) {
			t.Errorf("the local cache's %s is the other program's file %s", local, other)
		}
		if data, err := os.ReadFile(local); err != nil || string(data) != output {
			t.Errorf("after the other program rewrote its file, the local cache holds %q, %v", data, err)
		}
		if fi, err := os.Lstat(local); err != nil || !fi.Mode().IsRegular() {
			t.Errorf("the local cache's output is not a regular file: %v, %v", fi, err)
		}
	}
	t.Run("remote", func(t *testing.T) {
		g := start(t, "ok")
		res := g.send(request{ID: 1, Command: "get", ActionID: id("a")}, nil)
		if res.Miss || res.DiskPath != g.localOutput() {
			t.Fatalf("get: %+v", res)
		}
		g.close()
		other := filepath.Join(filepath.Dir(g.cfg.Dir), "out")
		rewrite(t, other)
		check(t, res.DiskPath, other)
	})
	t.Run("seed", func(t *testing.T) {
		seed := store{dir: t.TempDir()}
		other, err := seed.put(id("a"), id(output), int64(len(output)), strings.NewReader(output))
		if err != nil {
			t.Fatal(err)
		}
		g := startWith(t, "", seed.dir)
		res := g.send(request{ID: 1, Command: "get", ActionID: id("a")}, nil)
		if res.Miss || res.DiskPath != g.localOutput() {
			t.Fatalf("get: %+v", res)
		}
		g.close()
		rewrite(t, other)
		check(t, res.DiskPath, other)
	})
}

// TestEndlessAnswer: an answer of the shared cache that never ends is not
// gathered in memory: the cache is dropped once it goes on for more than
// maxAnswer, and the note says so.
func TestEndlessAnswer(t *testing.T) {
	g := startConfig(t, "endless", Config{Timeout: 3 * time.Second})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if res := g.sendWithin(request{ID: 1, Command: "get", ActionID: id("a")}, 10*time.Second); !res.Miss {
		t.Fatalf("get: %+v", res)
	}
	runtime.ReadMemStats(&after)
	g.close()
	if n := g.note(); !strings.Contains(n, fmt.Sprintf("an answer longer than %d bytes", maxAnswer)) {
		t.Errorf("note %q", n)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 16*maxAnswer {
		t.Errorf("reading the answer allocated %d MB", n>>20)
	}
}

// TestLeftovers: what a killed go-between left in the local cache (its
// temporary directory, or, from earlier versions, temporary files and
// links beside the cache's files) is removed when the next one starts;
// the directory of a go-between still running and the cache's entries
// stay, and a go-between leaves nothing of its own.
func TestLeftovers(t *testing.T) {
	t.Run("temporary directories", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "gocache")
		root := filepath.Join(dir, tmpRoot)
		killed, release, err := lockfile.TempDir(root, tmpPrefix)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(killed, ".x-d.tmp-1"), make([]byte, 1<<20), 0o600)
		release() // as a killed process's lock is
		live, release, err := lockfile.TempDir(root, tmpPrefix)
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		os.WriteFile(filepath.Join(live, ".y-d.tmp-2"), nil, 0o600)
		g := startConfig(t, "", Config{Dir: dir, Timeout: time.Second})
		body := []byte("an object file")
		g.send(request{ID: 1, Command: "put", ActionID: id("a"), OutputID: id(string(body)), BodySize: int64(len(body))}, body)
		g.close()
		if fsutil.Exists(killed) {
			t.Errorf("the directory a killed go-between left is still there: %s", killed)
		}
		if !fsutil.Exists(filepath.Join(live, ".y-d.tmp-2")) {
			t.Error("the directory of a running go-between was removed")
		}
		names, _ := filepath.Glob(filepath.Join(root, "*"))
		if len(names) != 2 { // live and its lock
			t.Errorf("the temporary directories hold %q", names)
		}
	})
	t.Run("earlier versions", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "gocache")
		g := startConfig(t, "", Config{Dir: dir, Timeout: time.Second})
		body := []byte("an object file")
		put := g.send(request{ID: 1, Command: "put", ActionID: id("a"), OutputID: id(string(body)), BodySize: int64(len(body))}, body)
		g.close()
		os.RemoveAll(filepath.Join(dir, tmpRoot)) // as before this version
		link := put.DiskPath + ".tmp-0123456789abcdef"
		if err := syscall.Mkfifo(link, 0o600); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(filepath.Dir(put.DiskPath), "."+filepath.Base(put.DiskPath)+".tmp-123456")
		os.WriteFile(tmp, make([]byte, 1<<20), 0o600)
		g = startConfig(t, "", Config{Dir: dir, Timeout: time.Second})
		if res := g.send(request{ID: 2, Command: "get", ActionID: id("a")}, nil); res.Miss {
			t.Errorf("the cache's entry is gone: %+v", res)
		}
		g.close()
		for _, p := range []string{link, tmp} {
			if fsutil.Exists(p) {
				t.Errorf("%s is still there", p)
			}
		}
	})
}
