//go:build unix

package fetch

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A FIFO at a file location is refused at once, not waited on.
func TestFIFORefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "published")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := Open(context.Background(), nil, fifo)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrMissing) {
			t.Fatalf("a FIFO: %v, want ErrMissing", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open blocks on a FIFO")
	}
}
