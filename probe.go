package selfcompile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/proc"
)

// The probe is how the library checks a binary before trusting it. Run
// with probeEnv set to "<nonce> <file>", a binary built with the stub
// writes "<nonce> <record as JSON>" to the new file (in a directory private
// to the installer) and exits, from the init of its main package. Go runs
// main's init after the init of every package main imports, so an answer
// proves that every plugin's init ran. The answer has a channel of its
// own: what plugins print on stdout, however much, does not matter, and
// the probe's whole process group is killed once it has exited, so a
// child that a plugin started does not outlive it.

const probeEnv = "GO_SELFCOMPILE_PROBE"

// verifyTimeout bounds a verification run.
func (c *SelfCompile) verifyTimeout() time.Duration {
	if c.ProbeTimeout > 0 {
		return c.ProbeTimeout
	}
	return defaultProbeTimeout
}

// answerProbe answers a probe and exits, if this process was started as
// one. A process privileged by its file ignores the variable.
func answerProbe(record string) {
	v := os.Getenv(probeEnv)
	nonce, file, ok := strings.Cut(v, " ")
	if v == "" || privileged() {
		return
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if !ok || err != nil {
		fmt.Fprintf(os.Stderr, "selfcompile: %s is set, but its answer file cannot be created: %v\n", probeEnv, err)
		os.Exit(2)
	}
	_, err = fmt.Fprintf(f, "%s %s\n", nonce, record)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Exit(2)
	}
	os.Exit(0)
}

// probe runs exe as a probe and returns the build record it reports. The
// returned error is a *VerifyError; its Plugins are left for the caller.
func probe(ctx context.Context, exe string, timeout time.Duration) (buildRecord, error) {
	var rec buildRecord
	if timeout <= 0 {
		timeout = defaultProbeTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	answer, output, exit, err := runProbe(ctx, exe)
	switch {
	case answer != "":
		if err := json.Unmarshal([]byte(answer), &rec); err != nil {
			return rec, &VerifyError{Reason: "its plugin record is malformed: " + err.Error()}
		}
		return rec, nil
	case err != nil:
		return rec, &VerifyError{Reason: "it could not be run: " + err.Error(), Output: output}
	case parent.Err() != nil: // the caller's cancellation or deadline, not the binary's fault
		return rec, parent.Err()
	case ctx.Err() != nil:
		return rec, &VerifyError{Reason: fmt.Sprintf("it did not answer within %v (a plugin's init may block or loop)", timeout), Output: output}
	case !exit.Success():
		return rec, &VerifyError{Reason: fmt.Sprintf("it exited with %v during start-up (a plugin's init may panic or exit)", exit), Output: output}
	}
	return rec, &VerifyError{Reason: "it exited 0 without answering the probe (a plugin's init may end the program)", Output: output}
}

// runProbe runs exe as a probe until it exits, kills what it started, and
// returns its answer (the record), the end of what it printed, and how it
// exited.
func runProbe(ctx context.Context, exe string) (answer, output string, exit *os.ProcessState, err error) {
	dir, err := os.MkdirTemp("", "selfcompile-probe-")
	if err != nil {
		return "", "", nil, err
	}
	defer os.RemoveAll(dir)
	out, err := os.Create(filepath.Join(dir, "output"))
	if err != nil {
		return "", "", nil, err
	}
	defer out.Close()
	var nb [16]byte
	rand.Read(nb[:])
	nonce, answerFile := hex.EncodeToString(nb[:]), filepath.Join(dir, "answer")
	cmd := proc.Command(ctx, exe)
	cmd.Env = append(gocmd.Without(os.Environ(), probeEnv, failpointEnv), probeEnv+"="+nonce+" "+answerFile)
	cmd.Stdout, cmd.Stderr = out, out // a file: Wait does not wait for children that hold it open
	err = cmd.Run()
	proc.Kill(cmd) // the whole group: nothing a plugin started outlives the probe
	if data, rerr := os.ReadFile(answerFile); rerr == nil {
		if a, ok := strings.CutPrefix(strings.TrimSuffix(string(data), "\n"), nonce+" "); ok {
			answer = a
		}
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) || ctx.Err() != nil {
		err = nil
	}
	return answer, tail(out, 64<<10), cmd.ProcessState, err
}

// tail returns the last n bytes of a file.
func tail(f *os.File, n int64) string {
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(0, fi.Size()-n)
	data := make([]byte, fi.Size()-off)
	f.ReadAt(data, off)
	return string(data)
}

// verify probes the new binary and checks that it reports exactly the
// expected plugins.
func (in *install) verify() error {
	done := in.stage("verify")
	in.c.logf("Verifying: %s", in.staged)
	failpoint(in.ctx, "verify")
	got, err := probe(in.ctx, in.staged, in.c.verifyTimeout())
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			ve.Plugins = suspects(ve.Output, in.rec.Plugins)
		}
		return err
	}
	if g, w := importPaths(got.Plugins), importPaths(in.rec.Plugins); !slices.Equal(g, w) {
		return &VerifyError{Reason: fmt.Sprintf("it reports plugins %q, expected %q", g, w)}
	}
	done()
	return nil
}

func importPaths(ps []PluginInfo) []string {
	var s []string
	for _, p := range ps {
		s = append(s, p.ImportPath)
	}
	slices.Sort(s)
	return s
}

// suspects returns the plugins whose import path appears in output, as in
// the stack trace of a panic in init.
func suspects(output string, plugins []PluginInfo) []string {
	var s []string
	for _, p := range plugins {
		if strings.Contains(output, p.ImportPath+".") || strings.Contains(output, p.ImportPath+"/") {
			s = append(s, p.ImportPath)
		}
	}
	return s
}
