package selfcompile

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Event reports the progress of an install, for a host that shows it its
// own way (SelfCompile.Progress).
type Event struct {
	// Stage is "restore", "download", "resolve", "build", "verify" or
	// "replace".
	Stage string
	// Done is false when the stage starts and true when it ends.
	Done bool
	// Elapsed is the stage's duration, when Done.
	Elapsed time.Duration
	// Bytes and Total report how far a restore is, in bytes written and
	// the bytes the bundle's parts hold; both are 0 for other stages.
	Bytes, Total int64
}

// String formats the event as the default progress printer does.
func (e Event) String() string {
	switch {
	case e.Done && e.Total > 0:
		return fmt.Sprintf("%s: done in %v (%.1f MB)", e.Stage, e.Elapsed.Round(time.Millisecond), float64(e.Total)/1e6)
	case e.Done:
		return fmt.Sprintf("%s: done in %v", e.Stage, e.Elapsed.Round(time.Millisecond))
	case e.Total > 0:
		return fmt.Sprintf("%s: %.1f of %.1f MB", e.Stage, float64(e.Bytes)/1e6, float64(e.Total)/1e6)
	}
	return e.Stage + "..."
}

// ProgressTo returns a progress function that prints each event on a line
// of w, with the prefix "[selfcompile] ".
func ProgressTo(w io.Writer) func(Event) {
	var mu sync.Mutex
	return func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "[selfcompile] %s\n", e)
	}
}

// defaultProgress writes events to stderr when a person is likely to read
// them: stderr is a terminal, or GO_SELFCOMPILE_PROGRESS=1.
var defaultProgress = sync.OnceValue(func() func(Event) {
	if os.Getenv("GO_SELFCOMPILE_PROGRESS") == "1" {
		return ProgressTo(os.Stderr)
	}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 && os.Getenv("GO_SELFCOMPILE_PROGRESS") != "0" {
		return ProgressTo(os.Stderr)
	}
	return func(Event) {}
})

func (c *SelfCompile) emit(e Event) {
	if c.Progress != nil {
		c.Progress(e)
		return
	}
	defaultProgress()(e)
}

// stage reports the start of a stage and returns the function that reports
// its end.
func (c *SelfCompile) stage(name string) (done func()) {
	start := time.Now()
	c.emit(Event{Stage: name})
	return func() { c.emit(Event{Stage: name, Done: true, Elapsed: time.Since(start)}) }
}

// byteProgress returns a callback for restorePart that reports restore
// progress at most every 16 MB.
func (c *SelfCompile) byteProgress(total int64) func(n int64) {
	var done, last int64
	return func(n int64) {
		done += n
		if done-last >= 16<<20 {
			last = done
			c.emit(Event{Stage: "restore", Bytes: done, Total: total})
		}
	}
}
