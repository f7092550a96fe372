package selfcompile

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/fetch"
	"github.com/shazow/go-selfcompile/internal/toolchain"
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
		err := fetchError(side(c.cause), "/cache/bundles")
		if !errors.Is(err, ErrSideFile) || errors.Is(err, ErrNeedsNetwork) != c.network || errors.Is(err, ErrNoSpace) != c.space {
			t.Errorf("%v: ErrSideFile %v, ErrNeedsNetwork %v, ErrNoSpace %v; want true, %v, %v", c.cause,
				errors.Is(err, ErrSideFile), errors.Is(err, ErrNeedsNetwork), errors.Is(err, ErrNoSpace), c.network, c.space)
		}
	}
}

// A pinned toolchain that could not be fetched through the module proxy
// matches what it lacked, the network or room, or ErrPinMismatch when the
// proxy served another one; and only that.
func TestToolchainFetchError(t *testing.T) {
	for _, c := range []struct {
		cause                    error
		network, space, mismatch bool
	}{
		{fetch.ErrOffline, true, false, false},
		{&fetch.Error{Kind: fetch.ErrUnreachable, Err: errors.New("connection refused")}, true, false, false},
		{fmt.Errorf("writing: %w", syscall.ENOSPC), false, true, false},
		{fetch.ErrMismatch, false, false, true},
		{&fetch.Error{Kind: fetch.ErrMissing, Err: errors.New("404 Not Found")}, false, false, false},
	} {
		err := fetchError(&toolchain.Error{Module: "golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64", Proxy: "https://proxy.example", Reason: c.cause.Error(), Err: c.cause}, "/cache/toolchains")
		if errors.Is(err, ErrNeedsNetwork) != c.network || errors.Is(err, ErrNoSpace) != c.space || errors.Is(err, ErrPinMismatch) != c.mismatch || errors.Is(err, ErrSideFile) {
			t.Errorf("%v: ErrNeedsNetwork %v, ErrNoSpace %v, ErrPinMismatch %v, ErrSideFile %v; want %v, %v, %v, false", c.cause,
				errors.Is(err, ErrNeedsNetwork), errors.Is(err, ErrNoSpace), errors.Is(err, ErrPinMismatch), errors.Is(err, ErrSideFile), c.network, c.space, c.mismatch)
		}
	}
}
