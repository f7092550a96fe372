package selfcompile

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

// The probe is how the library checks a binary before trusting it. Run
// with probeEnv set to a nonce, a binary built with the stub prints one
// line, "selfcompile-probe <nonce> <plugins as JSON>", and exits 0 from the
// init of its main package. Go runs main's init after the init of every
// package main imports, so an answer proves that every plugin's init ran.

const (
	probeEnv    = "GO_SELFCOMPILE_PROBE"
	exportEnv   = "GO_SELFCOMPILE_EXPORT" // with the probe: a file to write the plugin bundle to
	probePrefix = "selfcompile-probe "

	// DefaultProbeTimeout bounds a verification run of a new binary.
	DefaultProbeTimeout = 30 * time.Second
)

// answerProbe answers a probe and exits, if this process was started as
// one: it prints the build record and, if asked, writes the plugin bundle
// to a file.
func answerProbe(record, plugins string) {
	nonce := os.Getenv(probeEnv)
	if nonce == "" {
		return
	}
	if export := os.Getenv(exportEnv); export != "" {
		f, err := os.OpenFile(export, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, err = io.Copy(f, &releasingReader{s: plugins})
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "selfcompile: exporting the plugin bundle:", err)
			os.Exit(2)
		}
	}
	fmt.Fprintf(os.Stdout, "%s%s %s\n", probePrefix, nonce, record)
	os.Exit(0)
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// probe runs exe as a probe and returns the build record it reports. The
// returned error is a *VerifyError; its Plugins are left for the caller.
func probe(ctx context.Context, exe string, timeout time.Duration, export string) (buildRecord, error) {
	var rec buildRecord
	if timeout <= 0 {
		timeout = DefaultProbeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var nb [16]byte
	rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])

	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(withoutEnv(os.Environ(), probeEnv, exportEnv), probeEnv+"="+nonce)
	if export != "" {
		cmd.Env = append(cmd.Env, exportEnv+"="+export)
	}
	stdout := &limitedBuffer{max: 1 << 20}
	stderr := &limitedBuffer{max: 64 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second
	cmd.SysProcAttr = childAttr()
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return rec, &VerifyError{Reason: fmt.Sprintf("it did not answer within %v (a plugin's init may block or loop)", timeout), Output: stderr.String()}
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return rec, &VerifyError{Reason: fmt.Sprintf("it exited with %v during start-up (a plugin's init may panic or exit)", ee.ProcessState), Output: stderr.String()}
		}
		return rec, &VerifyError{Reason: "it could not be run: " + err.Error(), Output: stderr.String()}
	}
	sc := bufio.NewScanner(bytes.NewReader(stdout.Bytes()))
	sc.Buffer(nil, 1<<20)
	want := probePrefix + nonce + " "
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), want); ok {
			if err := json.Unmarshal([]byte(rest), &rec); err != nil {
				return rec, &VerifyError{Reason: "its plugin record is malformed: " + err.Error()}
			}
			return rec, nil
		}
	}
	return rec, &VerifyError{Reason: "it exited 0 without answering the probe (a plugin's init may end the program)", Output: stderr.String()}
}

// verifyBinary probes a freshly built binary and checks that it reports
// exactly the expected plugins.
func verifyBinary(ctx context.Context, exe string, want []PluginInfo, timeout time.Duration) error {
	got, err := probe(ctx, exe, timeout, "")
	if err != nil {
		var ve *VerifyError
		if errors.As(err, &ve) {
			ve.Plugins = suspects(ve.Output, want)
		}
		return err
	}
	paths := func(ps []PluginInfo) []string {
		var s []string
		for _, p := range ps {
			s = append(s, p.ImportPath)
		}
		slices.Sort(s)
		return s
	}
	if g, w := paths(got.Plugins), paths(want); !slices.Equal(g, w) {
		return &VerifyError{Reason: fmt.Sprintf("it reports plugins %q, expected %q", g, w)}
	}
	return nil
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

// withoutEnv returns env without the variables named.
func withoutEnv(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, k)
	})
}
