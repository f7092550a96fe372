package selfcompile

import (
	"errors"
	"os"
	"syscall"
	"testing"
)

// TargetError matches ErrNotWritable only when its cause is a permission
// problem.
func TestTargetErrorIs(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&os.PathError{Op: "open", Err: syscall.EACCES}, true},
		{&os.PathError{Op: "open", Err: syscall.EPERM}, true},
		{&os.PathError{Op: "open", Err: syscall.EROFS}, true},
		{&os.PathError{Op: "write", Err: syscall.EIO}, false},
		{&os.PathError{Op: "stat", Err: syscall.ENOENT}, false},
		{ErrStale, false},
	} {
		te := &TargetError{Path: "/x", Err: c.err}
		if got := errors.Is(te, ErrNotWritable); got != c.want {
			t.Errorf("TargetError{%v} matches ErrNotWritable: %v, want %v", c.err, got, c.want)
		}
	}
	if !errors.Is(&TargetError{Path: "/x", Err: ErrStale}, ErrStale) {
		t.Error("TargetError does not match its cause")
	}
}
