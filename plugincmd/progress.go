package plugincmd

import (
	"fmt"
	"io"
	"log"
	"os"
	"sync"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
)

// setOutput gives sc, where the program left them unset, a progress
// display and a logger that suit where stderr goes: on a terminal, a
// status line that the log lines scroll above; elsewhere, plain log lines,
// which include the build's progress every few seconds, and with
// GO_SELFCOMPILE_PROGRESS=1 a line for every event.
func (cmd *Command) setOutput(sc *selfcompile.SelfCompile, quiet bool) {
	w := cmd.stderr()
	if os.Getenv("GO_SELFCOMPILE_PROGRESS") == "1" && sc.Progress == nil {
		var mu sync.Mutex
		sc.Progress = func(e selfcompile.Event) {
			mu.Lock()
			defer mu.Unlock()
			fmt.Fprintf(w, "[selfcompile] %s\n", e)
		}
		return
	}
	f, ok := w.(*os.File)
	if !ok || os.Getenv("TERM") == "dumb" {
		return
	}
	if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return
	}
	t := &terminal{w: w}
	if sc.Logger == nil {
		sc.Logger = log.New(t, "[selfcompile] ", log.LstdFlags)
	}
	if sc.Progress == nil && !quiet {
		sc.Progress = t.show
	}
}

// terminal keeps a status line at the bottom of a terminal: log lines are
// written above it, and it is redrawn after each.
type terminal struct {
	mu     sync.Mutex
	w      io.Writer
	status string
	last   time.Time
}

// Write writes a log line above the status line.
func (t *terminal) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprint(t.w, "\r\033[K")
	n, err := t.w.Write(p)
	if t.status != "" {
		fmt.Fprint(t.w, t.status)
	}
	return n, err
}

// show draws the status line for an event: the stage, how far it is, and
// the time it has taken; at most ten times a second.
func (t *terminal) show(e selfcompile.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !e.Done && time.Since(t.last) < 100*time.Millisecond && e.Count > 0 {
		return
	}
	t.last = time.Now()
	t.status = "[selfcompile] " + e.String()
	if e.Done {
		t.status = ""
	}
	fmt.Fprint(t.w, "\r\033[K"+t.status)
}
