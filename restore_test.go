package selfcompile

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/shazow/go-selfcompile/internal/exe"
)

// A bundle file that could not be fetched matches, besides ErrSideFile,
// what it lacked: the network (ErrNeedsNetwork) or room (ErrNoSpace), and
// only that.
func TestSideError(t *testing.T) {
	side := func(cause error) error {
		return &exe.SideFileError{Exe: "/bin/prog", Path: "https://example.com/x", Looked: "/cache/x", Fetched: true, Reason: cause.Error(), Err: cause}
	}
	for _, c := range []struct {
		cause          error
		network, space bool
	}{
		{exe.ErrOffline, true, false},
		{fmt.Errorf("writing: %w", syscall.ENOSPC), false, true},
		{errors.New("holds a toolchain bundle whose sha256 is 0000, not 1111"), false, false},
	} {
		err := sideError(side(c.cause), "/cache/bundles")
		if !errors.Is(err, ErrSideFile) || errors.Is(err, ErrNeedsNetwork) != c.network || errors.Is(err, ErrNoSpace) != c.space {
			t.Errorf("%v: ErrSideFile %v, ErrNeedsNetwork %v, ErrNoSpace %v; want true, %v, %v", c.cause,
				errors.Is(err, ErrSideFile), errors.Is(err, ErrNeedsNetwork), errors.Is(err, ErrNoSpace), c.network, c.space)
		}
	}
}
