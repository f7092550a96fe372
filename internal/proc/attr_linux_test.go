package proc

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestChildDiesWithParent: on Linux, a child started through Command is
// killed when the process that started it dies, though nothing cancelled
// it.
func TestChildDiesWithParent(t *testing.T) {
	parent := helper(os.Args[0], "start-and-wait")
	out, _ := parent.StdoutPipe()
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		parent.Process.Kill()
		parent.Wait()
		t.Fatalf("the helper printed %q", line)
	}
	t.Cleanup(func() { syscall.Kill(child, syscall.SIGKILL) })
	parent.Process.Kill()
	parent.Wait()
	if !gone(child) {
		t.Error("the child outlived the process that started it")
	}
}
