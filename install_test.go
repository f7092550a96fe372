package selfcompile

import (
	"context"
	stdlog "log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// The target of an install is the file behind a symlink, so that the link
// stays a link.
func TestTargetThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "app")
	os.WriteFile(real, []byte("x"), 0o755)
	link := filepath.Join(dir, "link-to-app")
	if err := os.Symlink("app", link); err != nil {
		t.Skip("no symlinks:", err)
	}
	c := &SelfCompile{Target: link}
	if target, err := c.target(); err != nil || target != real {
		t.Fatalf("target = %s, %v; want %s", target, err, real)
	}
}

// The log of an install names its workdir only when Verbose asks: it is
// private, removed at the end, and its path fills a terminal's line.
func TestLogNamesWorkdirOnlyWhenVerbose(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var log strings.Builder
		in := &run{c: &SelfCompile{Logger: stdlog.New(&log, "", 0), Verbose: verbose}, cache: t.TempDir()}
		if err := in.makeWorkdir(context.Background()); err != nil {
			t.Fatal(err)
		}
		dir := in.workdir
		in.end()
		if fsutil.Exists(dir) {
			t.Fatalf("the workdir %s was not removed", dir)
		}
		if got := strings.Contains(log.String(), dir); got != verbose {
			t.Errorf("Verbose %v: the log names the workdir: %v, want %v:\n%s", verbose, got, verbose, log.String())
		}
		if !strings.Contains(log.String(), "Initializing workdir") || !strings.Contains(log.String(), "Cleaning up") {
			t.Errorf("Verbose %v: the log lacks its lines:\n%s", verbose, log.String())
		}
	}
}
