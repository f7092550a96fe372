package selfcompile

// The verify stage, and the probe it runs: how the library checks a
// binary before trusting it.
//
// Run with hook.ProbeEnv set to "<nonce> <file>", a binary built with the
// stub writes "<nonce> <record as JSON>" to the new file and exits, from
// the init of its main package (hook.Register). Go runs main's init after the init of every
// package main imports, so an answer proves that every plugin's init ran.
// The answer has a channel of its own, a file in a directory private to
// the installer: what plugins print, however much, does not matter (the
// installer keeps its end), and the probe's whole process group is killed
// once it has exited, so a child that a plugin started does not outlive
// it. The probe runs with GODEBUG=inittrace=1, so that a plugin whose init
// ends the program is named: its package is the one that never reports
// its init done; one that hangs is asked for its goroutines (SIGQUIT),
// whose stacks name it.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shazow/go-selfcompile/hook"
	"github.com/shazow/go-selfcompile/internal/failpoint"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/proc"
)

// outputTail is how much of what a probe prints is kept for its error.
const outputTail = 64 << 10

// verifyTimeout bounds a verification run: ProbeTimeout, or its default.
func (c *SelfCompile) verifyTimeout() time.Duration {
	if c.ProbeTimeout > 0 {
		return c.ProbeTimeout
	}
	return defaultProbeTimeout
}

// probeRun is what a probe run showed.
type probeRun struct {
	answer string           // the record it answered, if it did
	output string           // the end of what it printed
	inits  []string         // the packages whose init it reported done
	exit   *os.ProcessState // how it exited
}

// probe runs exe as a probe, with its answer file in dir (private to the
// installer), and returns the build record it reports. The returned error
// is a *VerifyError naming, among plugins, those the run blames.
func probe(ctx context.Context, exe, dir string, timeout time.Duration, plugins []PluginInfo) (buildRecord, error) {
	var rec buildRecord
	parent := ctx
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	run, err := runProbe(ctx, exe, dir)
	ve := &VerifyError{Output: run.output}
	switch {
	case run.answer != "":
		if err := json.Unmarshal([]byte(run.answer), &rec); err != nil {
			return rec, &VerifyError{Reason: "its plugin record is malformed: " + err.Error()}
		}
		return rec, nil
	case err != nil:
		ve.Reason = "it could not be run: " + err.Error()
		return rec, ve
	case parent.Err() != nil: // the caller's cancellation or deadline, not the binary's fault
		return rec, parent.Err()
	case ctx.Err() != nil:
		ve.Reason = fmt.Sprintf("it did not answer within %v (a plugin's init may block or loop)", timeout)
		ve.Plugins = suspects(run.output, plugins)
	case !run.exit.Success() && suspects(run.output, plugins) != nil:
		ve.Reason = fmt.Sprintf("it exited with %v during start-up (a plugin's init panicked or exited)", run.exit)
		ve.Plugins = suspects(run.output, plugins)
	default:
		ve.Reason = fmt.Sprintf("it exited (%v) without answering the probe: a plugin's init ended the program", run.exit)
		ve.Plugins = unfinished(run.inits, plugins)
	}
	return rec, ve
}

// runProbe runs exe as a probe until it exits, kills what it started, and
// returns what the run showed.
func runProbe(ctx context.Context, exe, dir string) (probeRun, error) {
	var nb [16]byte
	rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	answerFile := filepath.Join(dir, "probe-"+nonce)
	defer os.Remove(answerFile)
	r, w, err := os.Pipe()
	if err != nil {
		return probeRun{}, err
	}
	cmd := proc.Command(ctx, exe)
	cmd.Cancel = func() error { return proc.Quit(cmd) } // a goroutine dump first; WaitDelay then kills it
	cmd.Env = append(failpoint.Disarm(gocmd.Without(os.Environ(), hook.ProbeEnv, "GODEBUG")), hook.ProbeEnv+"="+nonce+" "+answerFile, "GODEBUG="+withInitTrace(os.Getenv("GODEBUG")))
	cmd.Stdout, cmd.Stderr = w, w // a file: Wait does not wait for children that hold it open
	out := &probeOutput{}
	done := make(chan struct{})
	go func() { out.read(r); close(done) }()
	err = cmd.Start()
	w.Close()
	if err == nil {
		err = cmd.Wait()
	}
	proc.Kill(cmd) // the whole group: nothing a plugin started outlives the probe
	select {
	case <-done:
	case <-time.After(2 * time.Second): // a child that left the group holds the pipe
	}
	r.Close()
	<-done
	run := probeRun{output: out.tail(), inits: out.initDone(), exit: cmd.ProcessState}
	if data, rerr := os.ReadFile(answerFile); rerr == nil {
		run.answer, _ = strings.CutPrefix(strings.TrimSuffix(string(data), "\n"), nonce+" ")
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) || ctx.Err() != nil {
		err = nil
	}
	return run, err
}

// withInitTrace adds inittrace=1 to a GODEBUG value.
func withInitTrace(godebug string) string {
	if godebug == "" {
		return "inittrace=1"
	}
	return godebug + ",inittrace=1"
}

// probeOutput keeps the end of what a probe prints, and the packages
// whose init it reported done.
type probeOutput struct {
	mu    sync.Mutex
	buf   []byte
	inits map[string]bool
}

func (o *probeOutput) read(r io.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		o.add(line)
		if err == io.EOF || (err != nil && err != bufio.ErrBufferFull) {
			return
		}
	}
}

func (o *probeOutput) add(line []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if pkg, ok := initTraced(line); ok {
		if o.inits == nil {
			o.inits = map[string]bool{}
		}
		o.inits[pkg] = true
		return
	}
	o.buf = append(o.buf, line...)
	if len(o.buf) > 2*outputTail {
		o.buf = append(o.buf[:0], o.buf[len(o.buf)-outputTail:]...)
	}
}

// initTraced returns the package that a GODEBUG=inittrace=1 line reports
// initialized: "init example.com/p @0.51 ms, 0.002 ms clock, ...".
func initTraced(line []byte) (string, bool) {
	rest, ok := strings.CutPrefix(string(line), "init ")
	if !ok {
		return "", false
	}
	pkg, rest, ok := strings.Cut(rest, " ")
	return pkg, ok && strings.HasPrefix(rest, "@")
}

func (o *probeOutput) tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf[max(0, len(o.buf)-outputTail):])
}

func (o *probeOutput) initDone() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for p := range o.inits {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// suspects returns the plugins whose import path appears in output, as in
// the stack trace of a panic in init, or in the goroutines of a hung one.
func suspects(output string, plugins []PluginInfo) []string {
	var s []string
	for _, p := range plugins {
		if strings.Contains(output, p.ImportPath+".") || strings.Contains(output, p.ImportPath+"/") {
			s = append(s, p.ImportPath)
		}
	}
	return s
}

// unfinished returns the plugins whose init the run did not report done:
// one of them ended the program.
func unfinished(inits []string, plugins []PluginInfo) []string {
	var s []string
	for _, p := range plugins {
		if !slices.Contains(inits, p.ImportPath) {
			s = append(s, p.ImportPath)
		}
	}
	return s
}

// verify takes the resolution and the new binary, probes it and returns
// an error unless it reports exactly the plugins of the new record.
func (res *resolution) verify(ctx context.Context, b *built) error {
	done := res.stage(StageVerify)
	res.c.logAt("Verifying the new binary", b.path)
	failpoint.Hit(ctx, "verify")
	got, err := probe(ctx, b.path, res.workdir, res.c.verifyTimeout(), res.rec.Plugins)
	if err != nil {
		return err
	}
	if g, w := importPaths(got.Plugins), importPaths(res.rec.Plugins); !slices.Equal(g, w) {
		return &VerifyError{Reason: fmt.Sprintf("it reports plugins %q, expected %q", g, w)}
	}
	done()
	return nil
}

// importPaths returns the import paths of the plugins, sorted.
func importPaths(ps []PluginInfo) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.ImportPath)
	}
	slices.Sort(s)
	return s
}
