package gocmd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// shell is a Go whose "go command" is sh, so that each test says what the
// command prints and how it ends: sh -c SCRIPT.
func shell(t *testing.T) Go {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	return Go{Bin: sh}
}

// TestRun returns what the command prints on stdout, run in Dir with Env
// as its whole environment.
func TestRun(t *testing.T) {
	g := shell(t)
	g.Dir = t.TempDir()
	g.Env = []string{"SELFCOMPILE_X=value"}
	out, err := g.Run(context.Background(), "-c", `echo "$SELFCOMPILE_X"; echo "home=$HOME"; pwd; echo noise >&2`)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	wantDir, _ := filepath.EvalSymlinks(g.Dir)
	if len(lines) != 3 || lines[0] != "value" || lines[1] != "home=" || lines[2] != wantDir {
		t.Errorf("output %q: want the variable, no HOME, and the directory %s", out, wantDir)
	}
}

// TestRunError: a command that fails is an *Error that holds its
// arguments and what it printed on stderr (stdout when stderr is empty),
// and unwraps to the process's error.
func TestRunError(t *testing.T) {
	g := shell(t)
	_, err := g.Run(context.Background(), "-c", "echo out; echo 'it failed' >&2; exit 3")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Run: %v, want an *Error", err)
	}
	if e.Output != "it failed\n" || !slices.Equal(e.Args, []string{"-c", "echo out; echo 'it failed' >&2; exit 3"}) {
		t.Errorf("Error %+v", e)
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("the error does not unwrap to the exit status 3: %v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "it failed") || !strings.Contains(msg, "exit status 3") {
		t.Errorf("the message %q does not say what failed", msg)
	}

	_, err = g.Run(context.Background(), "-c", "echo 'only on stdout'; exit 1")
	if !errors.As(err, &e) || e.Output != "only on stdout\n" {
		t.Errorf("a failure printed on stdout: %v", err)
	}

	g.Bin = filepath.Join(t.TempDir(), "no-go")
	if _, err := g.Run(context.Background(), "version"); !errors.Is(err, os.ErrNotExist) || !errors.As(err, &e) {
		t.Errorf("a missing go command: %v, want an *Error matching fs.ErrNotExist", err)
	}
}

// TestStream passes each stderr line as it comes, and keeps them for the
// error.
func TestStream(t *testing.T) {
	g := shell(t)
	var got []string
	out, err := g.Stream(context.Background(), func(l string) { got = append(got, l) }, "-c", "echo one >&2; echo result; echo two >&2")
	if err != nil || string(out) != "result\n" {
		t.Fatalf("Stream = %q, %v", out, err)
	}
	if !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("lines %q", got)
	}
	got = nil
	_, err = g.Stream(context.Background(), func(l string) { got = append(got, l) }, "-c", "echo first >&2; echo second >&2; exit 2")
	var e *Error
	if !errors.As(err, &e) || e.Output != "first\nsecond\n" || len(got) != 2 {
		t.Errorf("a failed stream: %v, lines %q", err, got)
	}
}

// TestRunCancel: when the context ends, the command (and what it started)
// is killed and Run returns the context's error, at once.
func TestRunCancel(t *testing.T) {
	g := shell(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := g.Run(ctx, "-c", "sleep 60 & sleep 60; wait")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run: %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Run returned after %v", d)
	}
}

// TestJSON decodes the output; output that is not JSON is an error.
func TestJSON(t *testing.T) {
	g := shell(t)
	var v struct{ Path, Version string }
	if err := g.JSON(context.Background(), &v, "-c", `echo '{"Path":"example.com/m","Version":"v1.0.0"}'`); err != nil || v.Path != "example.com/m" || v.Version != "v1.0.0" {
		t.Errorf("JSON = %+v, %v", v, err)
	}
	var syn *json.SyntaxError
	if err := g.JSON(context.Background(), &v, "-c", "echo not json"); !errors.As(err, &syn) {
		t.Errorf("output that is not JSON: %v", err)
	}
	var e *Error
	if err := g.JSON(context.Background(), &v, "-c", "exit 1"); !errors.As(err, &e) {
		t.Errorf("a failed command: %v, want an *Error", err)
	}
}

// TestWithout drops the variables named, by their whole name, and leaves
// the environment it was given as it was.
func TestWithout(t *testing.T) {
	env := []string{"GOFLAGS=-mod=mod", "GOFLAGSX=1", "GOOS=linux", "PATH=/bin", "GOOS=darwin", "EMPTY="}
	orig := slices.Clone(env)
	got := Without(env, "GOOS", "GOFLAGS", "EMPTY", "MISSING")
	if want := []string{"GOFLAGSX=1", "PATH=/bin"}; !slices.Equal(got, want) {
		t.Errorf("Without = %q, want %q", got, want)
	}
	if !slices.Equal(env, orig) {
		t.Errorf("the environment given changed to %q", env)
	}
	if got := Without(nil, "X"); len(got) != 0 {
		t.Errorf("Without(nil) = %q", got)
	}
}
