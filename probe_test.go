package selfcompile

import (
	"reflect"
	"strings"
	"testing"
)

// What GODEBUG=inittrace=1 prints, and what a probe keeps of a plugin's
// output: the end, however much it prints, and every package whose init
// was reported done.
func TestProbeOutput(t *testing.T) {
	var o probeOutput
	o.read(strings.NewReader("init internal/bytealg @0 ms, 0 ms clock, 0 bytes, 0 allocs\n" +
		"init example.com/a @0.51 ms, 0.002 ms clock, 32 bytes, 1 allocs\n" +
		strings.Repeat("noise from a plugin\n", 20000) +
		"init example.com/b @1.2 ms, 0.003 ms clock, 0 bytes, 0 allocs\n" +
		"the last line\n"))
	if got, want := o.initDone(), []string{"example.com/a", "example.com/b", "internal/bytealg"}; !reflect.DeepEqual(got, want) {
		t.Errorf("inits = %q, want %q", got, want)
	}
	tail := o.tail()
	if len(tail) > outputTail || !strings.HasSuffix(tail, "noise from a plugin\nthe last line\n") {
		t.Errorf("tail: %d bytes, ending %q", len(tail), tail[max(0, len(tail)-40):])
	}
	if _, ok := initTraced([]byte("init is what plugins do\n")); ok {
		t.Error("a plugin's line was taken for an init trace")
	}
}

// A plugin that ends the program in its init is the one whose init is not
// reported done; one that panics or hangs, the one its stacks name.
func TestBlame(t *testing.T) {
	plugins := []PluginInfo{{ImportPath: "example.com/a"}, {ImportPath: "example.com/exits"}}
	if got := unfinished([]string{"fmt", "example.com/a"}, plugins); !reflect.DeepEqual(got, []string{"example.com/exits"}) {
		t.Errorf("unfinished = %q", got)
	}
	stack := "goroutine 1 [sleep]:\ntime.Sleep(0x34630b8a000)\nexample.com/exits.init.0()\n\t/x/p.go:8 +0x1a\n"
	if got := suspects(stack, plugins); !reflect.DeepEqual(got, []string{"example.com/exits"}) {
		t.Errorf("suspects = %q", got)
	}
}
