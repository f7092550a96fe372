package selfcompile

// Progress: the events an install reports to a host that shows them its
// own way.

import (
	"fmt"
	"time"
)

// Stage is a stage of an install, as an Event names it.
type Stage string

// The stages of an install, in the order it runs them.
const (
	StageStart    Stage = "start"    // the executable locked and read
	StageRestore  Stage = "restore"  // the bundles laid out
	StageDownload Stage = "download" // what the binary fetches instead of carrying: the host's source (--skip-source), the toolchain and modules (--bundle fetch)
	StageResolve  Stage = "resolve"  // the plugins resolved, the plan made
	StageCheck    Stage = "check"    // a release build checked against what its bundle builds
	StageBuild    Stage = "build"    // go build
	StageVerify   Stage = "verify"   // the new binary's probe
	StageReplace  Stage = "replace"  // the swap
)

// Event reports the progress of an install, for a host that shows it its
// own way (SelfCompile.Progress).
type Event struct {
	// Stage is the stage the event is about.
	Stage Stage
	// Done is false while the stage runs and true when it ends.
	Done bool
	// Elapsed is the time since the stage started.
	Elapsed time.Duration
	// Count and Total say how far the stage is: in the restore stage, the
	// bytes written and the bytes of the parts being restored; in the
	// build stage, the packages compiled and the packages in the program
	// (the go command compiles only those its cache lacks; 0 until they
	// are counted, once the build has run two seconds).
	Count, Total int64
	// Package is, in the build and check stages, the package just
	// compiled.
	Package string
	// Estimate is, on the start of the build stage of a cold build (one
	// whose build cache lacks most of the program's packages, as on its
	// first install), what the build is expected to cost; nil otherwise.
	Estimate *Estimate
}

// String formats the event for a line of a log.
func (e Event) String() string {
	el := e.Elapsed.Round(time.Millisecond)
	switch {
	case e.Done:
		return fmt.Sprintf("%s: done in %v", e.Stage, el)
	case e.Stage == StageRestore && e.Total > 0:
		return fmt.Sprintf("restore: %.1f of %.1f MB (%v)", float64(e.Count)/1e6, float64(e.Total)/1e6, el)
	case (e.Stage == StageBuild || e.Stage == StageCheck) && e.Count > 0 && e.Total > 0:
		return fmt.Sprintf("%s: compiled %s, %d of the %d packages in the program (%v)", e.Stage, e.Package, e.Count, e.Total, el)
	case (e.Stage == StageBuild || e.Stage == StageCheck) && e.Count > 0:
		return fmt.Sprintf("%s: compiled %s, %d packages (%v)", e.Stage, e.Package, e.Count, el)
	}
	return string(e.Stage) + "..."
}

func (c *SelfCompile) emit(e Event) {
	if c.Progress != nil {
		c.Progress(e)
	}
}

// byteProgress returns a callback for a restore that reports progress at
// most every 16 MB.
func (r *run) byteProgress(total int64) func(n int64) {
	var done, last int64
	start := time.Now()
	return func(n int64) {
		done += n
		if done-last >= 16<<20 {
			last = done
			r.c.emit(Event{Stage: StageRestore, Count: done, Total: total, Elapsed: time.Since(start)})
		}
	}
}
