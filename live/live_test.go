package live

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
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

// Open refuses a plugin whose package or module this process loaded while
// it was built (two loads at once), before reading its file; another
// plugin goes on to the file check.
func TestOpenRefusesLoadedSince(t *testing.T) {
	loaded.Lock()
	loaded.plugins = []*Plugin{{Info: selfcompile.PluginInfo{ImportPath: "example.com/a/plugin", Module: "example.com/a", Version: "v1.0.0"}}}
	loaded.Unlock()
	t.Cleanup(func() { loaded.Lock(); loaded.plugins = nil; loaded.Unlock() })
	missing := filepath.Join(t.TempDir(), "p.so")
	for _, c := range []struct {
		info   selfcompile.PluginInfo
		loaded bool
	}{
		{selfcompile.PluginInfo{ImportPath: "example.com/a/plugin", Module: "example.com/a", Version: "v1.1.0"}, true},
		{selfcompile.PluginInfo{ImportPath: "example.com/a/other", Module: "example.com/a", Version: "v1.0.0"}, true},
		{selfcompile.PluginInfo{ImportPath: "example.com/b", Module: "example.com/b", Version: "v1.0.0"}, false},
	} {
		_, err := Open(&selfcompile.GoPlugin{Plugin: c.info, Path: missing, Sum: "0"})
		if errors.Is(err, ErrLoaded) != c.loaded || err == nil {
			t.Errorf("Open of %s: %v; want ErrLoaded: %v", c.info.Describe(), err, c.loaded)
		}
	}
}
