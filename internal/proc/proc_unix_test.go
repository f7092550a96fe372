//go:build unix

package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// helperEnv makes the test binary, run again, act as a helper process
// (TestHelperProcess) instead of running tests.
const helperEnv = "PROC_TEST_HELPER"

// TestHelperProcess is not a test: run with helperEnv set, it does what
// that says and exits.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "":
		t.Skip("a helper process of other tests")
	case "start-and-wait":
		// Starts a child through Command and blocks, as an installer
		// compiling: the test kills this process.
		cmd := Command(context.Background(), "sleep", "60")
		if err := cmd.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(cmd.Process.Pid)
		select {}
	case "exec":
		exe, _ := os.Executable()
		if filepath.Base(exe) == "replacement" {
			fmt.Println("replaced", os.Getpid())
			os.Exit(0)
		}
		fmt.Println("before", os.Getpid())
		err := Exec(filepath.Join(filepath.Dir(exe), "replacement"))
		fmt.Println("error", err)
		os.Exit(1)
	case "privileged":
		fmt.Println("euid", os.Geteuid())
		fmt.Println("privileged", Privileged())
		os.Exit(0)
	}
}

// helper returns a command that runs the test binary at bin as the helper
// process mode.
func helper(bin, mode string) *exec.Cmd {
	cmd := exec.Command(bin, "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

// gone waits up to a few seconds for the process pid to end: to be
// reaped, or a zombie that its new parent has yet to reap.
func gone(pid int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if _, rest, ok := strings.Cut(string(stat), ") "); ok && strings.HasPrefix(rest, "Z") {
				return true
			}
		}
	}
	return false
}

// startGroup starts, through Command, a shell that starts a grandchild in
// the background, and returns the grandchild's pid.
func startGroup(t *testing.T, ctx context.Context) (*exec.Cmd, int) {
	t.Helper()
	cmd := Command(ctx, "sh", "-c", "sleep 60 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("no sh: %v", err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		Kill(cmd)
		cmd.Wait()
		t.Fatalf("reading the grandchild's pid: %q, %v", line, err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	return cmd, pid
}

// TestCommandCancel: when the context ends, the child and what it started
// (its process group) are killed, and Wait returns.
func TestCommandCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd, grandchild := startGroup(t, ctx)
	cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Wait of a cancelled command returned no error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after the context ended")
	}
	if !gone(grandchild) {
		t.Error("the grandchild outlived the cancelled command")
	}
}

// TestKill kills the process group of a started command (SIGKILL), and is
// nothing for one not started.
func TestKill(t *testing.T) {
	if err := Kill(Command(context.Background(), "sleep", "60")); err != nil {
		t.Errorf("Kill of a command not started: %v", err)
	}
	cmd, grandchild := startGroup(t, context.Background())
	if err := Kill(cmd); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Errorf("Wait after Kill: %v, want killed by SIGKILL", err)
	}
	if !gone(grandchild) {
		t.Error("the grandchild outlived Kill")
	}
}

// TestQuit sends a started command SIGQUIT, and is nothing for one not
// started.
func TestQuit(t *testing.T) {
	if err := Quit(Command(context.Background(), "sleep", "60")); err != nil {
		t.Errorf("Quit of a command not started: %v", err)
	}
	cmd := Command(context.Background(), "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep: %v", err)
	}
	if err := Quit(cmd); err != nil {
		Kill(cmd)
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGQUIT {
		t.Errorf("Wait after Quit: %v, want ended by SIGQUIT", err)
	}
}

// TestExec runs another program in place of the process: the same
// process ID, the same arguments and environment (the replacement runs
// the same helper mode).
func TestExec(t *testing.T) {
	in, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dir := t.TempDir()
	repl, err := os.OpenFile(filepath.Join(dir, "replacement"), os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(repl, in)
	repl.Close()
	orig := filepath.Join(dir, "original")
	if err := os.Link(filepath.Join(dir, "replacement"), orig); err != nil {
		t.Fatal(err)
	}
	out, err := helper(orig, "exec").Output()
	if err != nil {
		t.Fatalf("the helper: %v\n%s", err, out)
	}
	var before, replaced string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "before" {
			before = f[1]
		} else if len(f) == 2 && f[0] == "replaced" {
			replaced = f[1]
		}
	}
	if before == "" || replaced != before {
		t.Errorf("before Exec pid %q, after %q; want the same process\n%s", before, replaced, out)
	}

	if err := Exec(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Exec of a missing program: %v, want fs.ErrNotExist", err)
	}
}
