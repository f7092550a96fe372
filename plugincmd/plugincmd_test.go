package plugincmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
)

// Each kind of failure has its exit code, so that scripts and
// configuration tools can tell them apart.
func TestExitCode(t *testing.T) {
	for _, c := range []struct {
		err  error
		want int
	}{
		{nil, ExitOK},
		{usageError{"bad"}, ExitUsage},
		{&selfcompile.PluginError{Spec: "x", Reason: "bad"}, ExitFailed},
		{&selfcompile.BuildError{Step: "go build"}, ExitFailed},
		{fmt.Errorf("wrapped: %w", selfcompile.ErrHostDepsChanged), ExitRefused},
		{&selfcompile.NetworkError{Module: "m", Version: "v1.0.0"}, ExitNetwork},
		{&selfcompile.RollbackError{Target: "/bin/x", Backup: "/bin/.x"}, ExitAct},
		{fmt.Errorf("x: %w", selfcompile.ErrCanceled), ExitCanceled},
		{context.Canceled, ExitCanceled},
	} {
		if got := ExitCode(c.err); got != c.want {
			t.Errorf("ExitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// A wrong command line is a usage error that says what is wrong, before
// any work.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"add"},
		{"remove"},
		{"list", "extra"},
		{"list", "--trim"},     // another subcommand's flag
		{"list", "--dry-run"},  // another subcommand's flag
		{"rollback", "extra"},  // rollback takes no arguments
		{"rollback", "--trim"}, // another subcommand's flag
		{"remove", "--keep-host-deps", "example.com/x"}, // a remove moves no module
		{"cache", "extra"},
		{"cache", "--trim", "--purge"},
		{"cache", "--dry-run"},
		{"add", "--no-such-flag", "x"},
	} {
		var stdout, stderr bytes.Buffer
		cmd := &Command{Name: "mytool", Stdout: &stdout, Stderr: &stderr}
		err := cmd.Run(context.Background(), args)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "usage: mytool plugin") {
			t.Errorf("%q: %v, want a usage error", args, err)
		}
		if stdout.Len() > 0 {
			t.Errorf("%q printed %q", args, stdout.String())
		}
	}
}

// On a terminal, log lines scroll above a status line that shows the
// stage, how far it is and the time it took; the status line goes when
// the stage is done.
func TestTerminal(t *testing.T) {
	var out bytes.Buffer
	term := &terminal{w: &out}
	term.show(selfcompile.Event{Stage: selfcompile.StageBuild, Package: "example.com/p", Count: 3, Total: 180, Elapsed: 1500 * time.Millisecond})
	term.Write([]byte("[selfcompile] Verifying: x\n"))
	term.show(selfcompile.Event{Stage: selfcompile.StageBuild, Done: true, Elapsed: 2 * time.Second})
	want := "\r\033[K[selfcompile] build: compiled example.com/p, 3 of the 180 packages in the program (1.5s)" +
		"\r\033[K[selfcompile] Verifying: x\n[selfcompile] build: compiled example.com/p, 3 of the 180 packages in the program (1.5s)" +
		"\r\033[K"
	if out.String() != want {
		t.Errorf("terminal output:\n%q\nwant\n%q", out.String(), want)
	}
}
