package lockfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// A directory whose installer holds its lock survives RemoveStale; once
// the lock is released (the installer died), RemoveStale takes it, and its
// lock file.
func TestTempDirAndRemoveStale(t *testing.T) {
	parent := t.TempDir()
	live, releaseLive, err := TempDir(parent, "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer releaseLive()
	dead, releaseDead, err := TempDir(parent, "install-")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dead, "left"), []byte("x"), 0o600)
	// A killed installer's lock is free; its directory stays. (Releasing
	// removes the lock file only once the directory is gone.)
	releaseDead()
	if _, err := os.Stat(dead + lockSuffix); err != nil {
		t.Fatalf("the lock of a directory still there was removed: %v", err)
	}
	RemoveStale(parent, "install-")
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("a stale directory was kept: %v", err)
	}
	if _, err := os.Stat(dead + lockSuffix); !os.IsNotExist(err) {
		t.Errorf("a stale directory's lock file was kept: %v", err)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("a live installer's directory was removed: %v", err)
	}
	os.RemoveAll(live)
	releaseLive()
	if _, err := os.Stat(live + lockSuffix); !os.IsNotExist(err) {
		t.Errorf("a released lock of a removed directory was kept: %v", err)
	}
}

// A held lock makes a second Open fail at once with ErrBusy, or wait until
// it is released; shared locks go together.
func TestOpen(t *testing.T) {
	name := filepath.Join(t.TempDir(), "lock")
	ctx := context.Background()
	a, err := Open(ctx, name, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, name, true, false, nil); err != ErrBusy {
		t.Fatalf("a second exclusive lock: %v, want ErrBusy", err)
	}
	if !Held(name) {
		t.Error("Held does not see the lock")
	}
	waited := make(chan *Lock)
	go func() {
		l, _ := Open(ctx, name, true, true, func() { a.Release() })
		waited <- l
	}()
	if l := <-waited; l == nil {
		t.Fatal("a waiting Open did not get the lock once it was released")
	} else {
		l.Release()
	}
	s1, err1 := Open(ctx, name, false, false, nil)
	s2, err2 := Open(ctx, name, false, false, nil)
	if err1 != nil || err2 != nil {
		t.Fatalf("two shared locks: %v, %v", err1, err2)
	}
	s1.Release()
	s2.Release()
}
