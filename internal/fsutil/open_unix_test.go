//go:build unix

package fsutil

import (
	"errors"
	"io"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestOpenRegular: a regular file opens and reads; a missing one is
// fs.ErrNotExist; a directory and a FIFO are refused, the FIFO at once
// rather than blocking until a writer comes.
func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	writeFile(t, p, "content")
	f, err := OpenRegular(p)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil || string(data) != "content" {
		t.Errorf("read %q, %v", data, err)
	}

	if _, err := OpenRegular(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
	if f, err := OpenRegular(dir); err == nil {
		f.Close()
		t.Error("a directory was opened")
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		f, err := OpenRegular(fifo)
		if err == nil {
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a FIFO was opened")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("OpenRegular blocked on a FIFO with no writer")
	}
}
