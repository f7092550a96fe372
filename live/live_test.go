package live

import (
	"strings"
	"testing"
)

type greeter interface{ Greet() string }

type english struct{}

func (english) Greet() string { return "hello" }

// As follows the pointers that plugin.Lookup and the wrapper's exports
// put around a symbol, and names both types when it is not what is asked.
func TestAs(t *testing.T) {
	var g greeter = english{}
	pg := &g // plugin.Lookup of a variable returns a pointer to it
	ppg := &pg
	for _, sym := range []any{pg, ppg} {
		got, err := As[greeter](sym, "Greeter")
		if err != nil || got.Greet() != "hello" {
			t.Errorf("As(%T) = %v, %v", sym, got, err)
		}
	}
	f := func() string { return "f" }
	if got, err := As[func() string](&f, "F"); err != nil || got() != "f" {
		t.Errorf("As of a func: %v", err)
	}
	n := 3
	if _, err := As[greeter](&n, "Count"); err == nil || !strings.Contains(err.Error(), "*int to int, not live.greeter") {
		t.Errorf("As of another type: %v", err)
	}
}
