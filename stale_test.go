//go:build unix

package selfcompile_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/internal/bundle"
)

// A process whose executable was upgraded on disk while it ran refuses to
// install, rather than rebuild the old program over the new; one whose
// executable is damaged on disk fails, saying which bundle is damaged,
// rather than fall back to its own plugin list or call it a binary
// without bundles.
func TestExecutableChangedOnDisk(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	v2 := secondBuild(t)
	damaged := filepath.Join(tempDir(t), "damaged")
	data, _ := os.ReadFile(e2e.abinary)
	sections, _ := bundle.Locate(bytes.NewReader(data), int64(len(data)))
	for _, s := range sections {
		_, off, n := s.Outer()
		data[off+n/2] ^= 0xff // a byte in the middle of each bundle
	}
	os.WriteFile(damaged, data, 0o755)

	for _, c := range []struct {
		name, with, says string
	}{
		{"upgraded", v2, "was replaced since this program started"},
		{"damaged", damaged, "bundle is corrupt: the shared bundle's"},
	} {
		t.Run(c.name, func(t *testing.T) {
			target := failpointCopy(t)
			r := start(t, target, []string{"GO_SELFCOMPILE_FAILPOINT=begin:pause"}, "plugin", "add", aplugin)
			r.waitFor(t, "selfcompile: failpoint begin pause")
			copyBinary(t, c.with, target) // as a package manager does: a new file renamed into place
			want := fileHash(t, target)
			r.resume()
			if err := r.wait(); err == nil || !strings.Contains(r.stderr.String(), c.says) {
				t.Fatalf("install after the executable changed: %v\n%s", err, r.stderr.String())
			}
			if fileHash(t, target) != want {
				t.Fatal("the install replaced the executable")
			}
		})
	}
}

// A binary moved away or deleted during the install is noticed before the
// swap, with an error that says so; the moved binary is intact and
// nothing is put at its old path.
func TestExecutableMovedDuringInstall(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := failpointCopy(t)
	before := fileHash(t, target)
	r := start(t, target, []string{"GO_SELFCOMPILE_FAILPOINT=verify:pause"}, "plugin", "add", aplugin)
	r.waitFor(t, "selfcompile: failpoint verify pause")
	moved := target + ".moved"
	if err := os.Rename(target, moved); err != nil {
		t.Fatal(err)
	}
	r.resume()
	if err := r.wait(); err == nil || !strings.Contains(r.stderr.String(), "moved or deleted during the install") {
		t.Fatalf("install of a moved binary: %v\n%s", err, r.stderr.String())
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("something was put at the old path")
	}
	if fileHash(t, moved) != before {
		t.Error("the moved binary changed")
	}
}

// alive reports whether the process pid runs: it exists and is not a
// zombie waiting for a parent to reap it.
func alive(pid int) bool {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	return !strings.Contains(string(status), "State:\tZ")
}

// An executable rewritten in place during an install (the same file, new
// bytes, as cp or install -C write it) is noticed before the swap: the
// install fails with ErrStale and leaves the rewritten file as it is. The
// rewrite happens when the install reports that it verifies the new
// binary, after the build.
func TestExecutableRewrittenDuringInstall(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := installedCopy(t)
	v2, err := os.ReadFile(secondBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	sc := installer(t, target)
	rewritten := false
	sc.Progress = func(e selfcompile.Event) {
		if e.Stage == "verify" && !e.Done && !rewritten {
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Errorf("rewriting the executable: %v", err)
				return
			}
			f.Write(v2)
			f.Close()
			rewritten = true
		}
	}
	sc.Plugin(aplugin)
	err = sc.Compile()
	if !rewritten {
		t.Fatalf("the install never reached verify: %v", err)
	}
	if !errors.Is(err, selfcompile.ErrStale) || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("install into an executable rewritten meanwhile: %v", err)
	}
	if got, _ := os.ReadFile(target); !bytes.Equal(got, v2) {
		t.Fatal("the install replaced the rewritten executable")
	}
}
