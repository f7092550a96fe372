// Package live loads plugins into a running program, with Go's plugin
// package: the program gains a plugin without a restart and keeps its state
// and connections. The plugin is built by the program itself, with the Go
// toolchain it carries, its recorded settings and the module versions of
// its build (selfcompile.SelfCompile.BuildGoPlugin), so that plugin.Open
// accepts it: the "plugin was built with a different version of package"
// failure of hand-built plugins does not happen, but for two live plugins
// that bring in different versions of a module the program lacks. The same plugin package
// works both ways: compiled in, or loaded live; its init registers into
// the running program either way.
//
// A Go plugin needs a program built with cgo, on Linux, macOS or FreeBSD,
// and a C compiler on the machine to link it; it cannot be unloaded, nor
// replaced by another version in the same process; a live load is no
// faster than rebuilding the program (the first compiles every dependency
// again for dynamic linking), so what it buys is that the process keeps
// running. Load refuses, before building, what cannot work, with errors
// that say to install the plugin and restart instead. A program that loads
// plugins live imports this package (and so package plugin, which makes
// its binary dynamically linked); other programs do not build it.
package live

import (
	"context"
	"errors"
	"fmt"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"plugin"
	"reflect"
	"strings"
	"sync"

	selfcompile "github.com/shazow/go-selfcompile"
)

var (
	// ErrNoGoPlugins: this program cannot load Go plugins (the platform,
	// or a program built without cgo or without -trimpath).
	ErrNoGoPlugins = selfcompile.ErrNoGoPlugins
	// ErrNoCCompiler: there is no C compiler to link a Go plugin with.
	ErrNoCCompiler = selfcompile.ErrNoCCompiler
	// ErrModuleMismatch: the plugin needs module versions other than the
	// running program's.
	ErrModuleMismatch = selfcompile.ErrModuleMismatch
	// ErrLoaded: the plugin, or another version of it, is already in the
	// running program (compiled in, or loaded live): a Go plugin cannot be
	// unloaded or replaced.
	ErrLoaded = selfcompile.ErrLoaded
	// ErrChanged: the shared object changed after it was built.
	ErrChanged = errors.New("the plugin's shared object changed after it was built")
)

// Loader loads plugins into the running program.
type Loader struct {
	// SelfCompile holds the options of the builds (LDFlags, CacheDir,
	// Vendor, Logger...); its Target must be the running program's
	// executable, as it is by default.
	SelfCompile selfcompile.SelfCompile
	// Durable makes Load also rebuild the executable on disk with the
	// plugin compiled in, in the same call, so that the next start has it.
	Durable bool
}

// Plugin is a plugin loaded into the running program.
type Plugin struct {
	// Info is the plugin, as a binary that compiled it in would record it.
	Info selfcompile.PluginInfo
	// Path and Sum are its shared object and that file's sha256, checked
	// right before it was opened.
	Path, Sum string
	p         *plugin.Plugin
}

var loaded struct {
	sync.Mutex
	plugins []*Plugin
}

// Loaded returns the plugins this process has loaded live, in the order it
// loaded them. selfcompile.Installed, which reads what the binary was built
// with, does not know them.
func Loaded() []selfcompile.PluginInfo {
	loaded.Lock()
	defer loaded.Unlock()
	var out []selfcompile.PluginInfo
	for _, p := range loaded.plugins {
		out = append(out, p.Info)
	}
	return out
}

// Load builds the plugin spec for the running program, checks the program
// with it compiled in (the usual probe, in a built binary: a plugin that
// panics in init never reaches this process), with Durable rebuilds the
// executable on disk with it, and opens it, checking its sha256 right
// before plugin.Open: its init runs in this process. It refuses, before
// building, a plugin that is already in the program (compiled in or
// loaded live, at any version), and what BuildGoPlugin refuses.
func (l *Loader) Load(ctx context.Context, spec string) (*Plugin, error) {
	sc := l.SelfCompile
	gp, err := sc.BuildGoPlugin(ctx, spec, Loaded())
	if err != nil {
		return nil, err
	}
	if l.Durable {
		again := gp.Plugin.String() // the version built, whatever "latest" says now
		if gp.Plugin.Local != "" {
			again = gp.Plugin.Local
		}
		if _, err := sc.Apply(ctx, selfcompile.Change{Add: []string{again}}); err != nil {
			return nil, fmt.Errorf("live: the plugin was built, but rebuilding the executable with it failed, so it was not loaded: %w", err)
		}
	}
	return Open(gp)
}

// Open opens a Go plugin that BuildGoPlugin built, after checking that
// its shared object still has the sha256 it was built with: its init runs
// in this process. It refuses, with ErrLoaded, a plugin of whose package
// or module this process has loaded one since (two loads at once).
func Open(gp *selfcompile.GoPlugin) (*Plugin, error) {
	p, err := open(gp)
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	return p, nil
}

// open is Open, its errors without the package's name, which Open writes
// once.
func open(gp *selfcompile.GoPlugin) (*Plugin, error) {
	loaded.Lock()
	defer loaded.Unlock()
	for _, have := range loaded.plugins { // loaded while this one was built
		if have.Info.Shares(gp.Plugin) {
			return nil, fmt.Errorf("%w: %s was loaded while %s was built; a Go plugin cannot be unloaded or replaced", ErrLoaded, have.Info.Describe(), gp.Plugin.Describe())
		}
	}
	sum, err := fsutil.SHA256(gp.Path)
	if err != nil {
		return nil, err
	}
	if sum != gp.Sum {
		return nil, fmt.Errorf("%w: %s has sha256 %s, and was built with %s; it was not opened", ErrChanged, gp.Path, sum, gp.Sum)
	}
	p, err := plugin.Open(gp.Path)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", gp.Path, err)
	}
	lp := &Plugin{Info: gp.Plugin, Path: gp.Path, Sum: sum, p: p}
	loaded.plugins = append(loaded.plugins, lp)
	return lp, nil
}

// Lookup returns the exported variable or function name of a loaded
// plugin as a T, following pointers (plugin.Lookup returns a variable as
// a pointer to it): a Greeter interface, a *Config, a func() error. A
// symbol of another type is an error that names both types.
func Lookup[T any](p *Plugin, name string) (T, error) {
	var zero T
	sym, err := p.p.Lookup(name)
	if err != nil {
		return zero, fmt.Errorf("live: %s has no exported %s: %w", p.Info.ImportPath, name, err)
	}
	return As[T](sym, name)
}

// As returns sym, a symbol that plugin.Lookup returned, as a T, following
// pointers; for plugins opened with package plugin directly.
func As[T any](sym any, name string) (T, error) {
	want := reflect.TypeFor[T]()
	v := reflect.ValueOf(sym)
	var seen []string
	for v.IsValid() {
		seen = append(seen, v.Type().String())
		if v.Type().AssignableTo(want) {
			return v.Interface().(T), nil
		}
		if v.Kind() != reflect.Pointer || v.IsNil() {
			break
		}
		v = v.Elem()
	}
	var zero T
	return zero, fmt.Errorf("live: the symbol %s is %s, not %s", name, strings.Join(seen, " to "), want)
}
