// Package gocmd runs the go command: the generator runs the go on PATH, an
// install runs the toolchain it restored. It is the one place that starts
// it.
package gocmd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/shazow/go-selfcompile/internal/proc"
)

// Go is a go command with its working directory and environment.
type Go struct {
	Bin string   // the go binary
	Dir string   // working directory
	Env []string // the whole environment; nil means this process's
}

// Error is a go command that failed. Output is what it printed on stderr
// (or on stdout, when stderr is empty).
type Error struct {
	Args   []string
	Output string
	Err    error
}

// Error returns the command and what it printed.
func (e *Error) Error() string {
	return fmt.Sprintf("go %s: %v\n%s", strings.Join(e.Args, " "), e.Err, strings.TrimSpace(e.Output))
}

// Unwrap returns the error of the process.
func (e *Error) Unwrap() error { return e.Err }

// Run runs the go command with args and returns its standard output. When
// ctx ends, the command and everything it started are killed and Run
// returns ctx.Err().
func (g Go) Run(ctx context.Context, args ...string) ([]byte, error) {
	return g.Stream(ctx, nil, args...)
}

// JSON runs the go command with args and decodes its standard output into
// v.
func (g Go) JSON(ctx context.Context, v any, args ...string) error {
	out, err := g.Run(ctx, args...)
	if err != nil {
		return err
	}
	return json.Unmarshal(out, v)
}

// Stream is Run that also passes each line the command prints on stderr to
// line, as it comes, when line is not nil.
func (g Go) Stream(ctx context.Context, line func(string), args ...string) ([]byte, error) {
	cmd := proc.Command(ctx, g.Bin, args...)
	cmd.Dir, cmd.Env = g.Dir, g.Env
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	var lines *io.PipeWriter
	done := make(chan struct{})
	if line == nil {
		cmd.Stderr = &stderr
		close(done)
	} else {
		var r *io.PipeReader
		r, lines = io.Pipe()
		cmd.Stderr = lines
		go func() {
			defer close(done)
			sc := bufio.NewScanner(r)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				stderr.WriteString(sc.Text() + "\n")
				line(sc.Text())
			}
			io.Copy(io.Discard, r)
		}()
	}
	err := cmd.Run()
	if lines != nil {
		lines.Close()
	}
	<-done
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		out := stderr.String()
		if strings.TrimSpace(out) == "" {
			out = stdout.String()
		}
		return nil, &Error{Args: args, Output: out, Err: err}
	}
	return stdout.Bytes(), nil
}

// Without returns env without the variables named.
func Without(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, k)
	})
}
