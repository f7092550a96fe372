//go:build unix

package cacheprog

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"
)

// TestMainLeavesDescriptor3: a program not started as the proxy keeps
// its descriptor 3 (a socket that systemd passed, a fuzz worker's pipe)
// as it was: after Main and a few collections, the program reads from it
// what was written to it.
func TestMainLeavesDescriptor3(t *testing.T) {
	if os.Getenv("CACHEPROG_TEST_FD3") != "" {
		Main()
		for range 10 { // a finalizer of a file made for it would run after a collection
			runtime.GC()
			time.Sleep(5 * time.Millisecond)
		}
		b := make([]byte, 1)
		if _, err := os.NewFile(3, "passed").Read(b); err != nil || b[0] != 'x' {
			os.Stderr.WriteString("reading descriptor 3: " + err.Error() + "\n")
			os.Exit(3)
		}
		os.Exit(0)
	}
	exe, _ := os.Executable()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	w.Write([]byte("x"))
	cmd := exec.Command(exe, "-test.run=^TestMainLeavesDescriptor3$")
	cmd.Env = append(os.Environ(), "CACHEPROG_TEST_FD3=1")
	cmd.ExtraFiles = []*os.File{r}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the program lost its descriptor 3: %v\n%s", err, out)
	}
}
