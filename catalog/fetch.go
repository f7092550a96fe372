package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/shazow/go-selfcompile/internal/fetch"
)

// maxCatalog bounds what Fetch reads.
const maxCatalog = 16 << 20

// Fetch reads the signed catalog at location: an https URL, fetched with
// client (nil for http.DefaultClient), or a file (a path or a file://
// URL). It does not verify it: Open does. A failure of the network or the
// server matches ErrUnreachable; a server whose certificate this machine
// does not trust, ErrUntrustedServer; a location that holds no catalog,
// ErrMissing; a catalog over 16 MB, or a redirect to other than https,
// ErrBadCatalog.
func Fetch(ctx context.Context, client *http.Client, location string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r, err := fetch.Open(ctx, client, location)
	if err != nil {
		return nil, catalogError(err)
	}
	defer r.Close()
	data, err := readLimited(r)
	if err != nil {
		return nil, catalogError(err)
	}
	return data, nil
}

// readLimited reads a catalog of at most 16 MB.
func readLimited(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxCatalog+1))
	if err != nil {
		return nil, fmt.Errorf("reading the catalog: %w", err)
	}
	if len(data) > maxCatalog {
		return nil, fmt.Errorf("%w: it is larger than %d MB", ErrBadCatalog, maxCatalog>>20)
	}
	return data, nil
}

// catalogError says what a failure to fetch means for a catalog: the
// sentinel of its kind, with what happened.
func catalogError(err error) error {
	switch {
	case errors.Is(err, fetch.ErrUnreachable):
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	case errors.Is(err, fetch.ErrUntrusted):
		return fmt.Errorf("%w: %w", ErrUntrustedServer, err)
	case errors.Is(err, fetch.ErrMissing):
		return fmt.Errorf("%w: %w", ErrMissing, err)
	case errors.Is(err, fetch.ErrRedirect):
		return fmt.Errorf("%w: %w", ErrBadCatalog, err)
	case errors.Is(err, fetch.ErrLocation):
		return fmt.Errorf("catalog %w", err)
	}
	return err
}
