package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// --host-version takes a semantic version, checked before any work.
func TestHostVersionFlag(t *testing.T) {
	for _, v := range []string{"1.2.0", "v1.2", "latest"} {
		err := run(context.Background(), []string{"-C", t.TempDir(), "--host-version", v}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "want a semantic version") {
			t.Errorf("--host-version %s: %v; want it refused", v, err)
		}
	}
}
