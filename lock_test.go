package selfcompile_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
)

// TestLock: a second installer of the same executable fails at once with
// ErrLocked when asked not to wait, and otherwise waits, says so, and then
// builds on what the first one installed; trimming or purging the cache
// fails with ErrLocked meanwhile. The first holds the lock paused
// at a failpoint, so no timing is involved.
func TestLock(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := failpointCopy(t)
	slow := filepath.Join(tempDir(t), "slow")
	writePlugin(t, slow, "example.com/slow", "slow activated.")
	first := start(t, target, []string{"GO_SELFCOMPILE_FAILPOINT=verify:pause"}, "--plugin", slow)
	first.waitFor(t, "selfcompile: failpoint verify pause")

	sc := installer(t, target)
	sc.NoWait = true
	sc.Plugin(aplugin)
	if err := sc.Compile(); !errors.Is(err, selfcompile.ErrLocked) {
		t.Fatalf("NoWait install during another: %v, want ErrLocked", err)
	}
	if _, err := sc.TrimCache(context.Background()); !errors.Is(err, selfcompile.ErrLocked) {
		t.Fatalf("TrimCache during an install: %v, want ErrLocked", err)
	}
	if err := sc.PurgeCache(t.Context()); !errors.Is(err, selfcompile.ErrLocked) {
		t.Fatalf("PurgeCache during an install: %v, want ErrLocked", err)
	}

	var logs syncBuffer
	sc = installer(t, target)
	sc.Logger.SetOutput(&logs)
	sc.Plugin(aplugin)
	second := make(chan error)
	go func() { second <- sc.Compile() }()
	for !strings.Contains(logs.String(), "Waiting for another install of "+target) {
		select {
		case err := <-second:
			t.Fatalf("the second install did not wait: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	first.resume()
	if err := first.wait(); err != nil {
		t.Fatalf("first install: %v\n%s", err, first.stderr.String())
	}
	if err := <-second; err != nil {
		t.Fatalf("waiting install: %v\n%s", err, logs.String())
	}
	if out := mustRun(t, target); out != "slow activated.\naplugin activated.\nJust doing binary things\n" {
		t.Fatalf("the second install lost the first one's plugin: %q", out)
	}
}

// TestConcurrentInstalls starts four installers of four plugins at once:
// all succeed, and the binary ends with all four plugins.
func TestConcurrentInstalls(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := installedCopy(t)
	var runs []*installRun
	for _, name := range []string{"race1", "race2", "race3", "race4"} {
		d := filepath.Join(tempDir(t), name)
		writePlugin(t, d, "example.com/"+name, name+" activated.")
		runs = append(runs, start(t, target, nil, "--plugin", d))
	}
	for i, r := range runs {
		if err := r.wait(); err != nil {
			t.Errorf("installer %d: %v\n%s", i, err, r.stderr.String())
		}
	}
	want := "race1 activated.\nrace2 activated.\nrace3 activated.\nrace4 activated.\nJust doing binary things\n"
	if out := mustRun(t, target); out != want {
		t.Fatalf("after four concurrent installs: %q", out)
	}
}
