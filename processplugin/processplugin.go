// Package processplugin starts, reaches and stops the process plugins of
// a go-selfcompile host: plugins that are programs of their own, built on
// the user's machine by SelfCompile.InstallProcess (plugin add --process),
// which the host talks to over RPC with github.com/hashicorp/go-plugin.
//
// The host declares the interfaces its process plugins serve in a package
// of its own, with go-plugin's handshake and plugin map, as any go-plugin
// host does; a plugin is a main package that imports that package and
// calls plugin.Serve. A Manager reads the manifest of the process plugins'
// directory each time it is asked for a plugin, so that one installed
// while the host runs is found without a restart, checks each executable's
// sha256 against the manifest before every start (go-plugin's
// SecureConfig), starts the process again when it has exited (a panic, a
// crash, a kill), and names the plugin in every error.
//
// This package is a module of its own, so that programs without process
// plugins never download go-plugin and gRPC.
package processplugin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	selfcompile "github.com/shazow/go-selfcompile"
)

// ErrNotInstalled matches the error for a plugin name that the manifest
// does not list.
var ErrNotInstalled = errors.New("not installed")

// ErrModified matches the error for an executable whose sha256 is not the
// one its install recorded: it was changed on disk since, and is not
// started.
var ErrModified = errors.New("its executable changed since its install")

// Error is a failure of a process plugin: its start, its dispense, or a
// call into it.
type Error struct {
	// Plugin is the plugin's name.
	Plugin string
	// Exited says whether its process had ended after the failure: it
	// panicked, crashed or was killed. The next use starts it again.
	Exited bool
	// Panic is the panic's first line ("panic: ..."), for a plugin whose
	// process panicked.
	Panic string
	// Err is the failure.
	Err error
}

// Error names the plugin, what happened and what the host does next.
func (e *Error) Error() string {
	msg := fmt.Sprintf("process plugin %s: %v", e.Plugin, e.Err)
	switch {
	case e.Panic != "":
		msg += "; its process exited with " + e.Panic + " (it is started again when next used)"
	case e.Exited:
		msg += "; its process exited (it is started again when next used)"
	}
	return msg
}

// Unwrap returns the failure.
func (e *Error) Unwrap() error { return e.Err }

// Manager runs a host's process plugins. Its zero value, given Handshake
// and Plugins, is ready to use; it is safe for concurrent use. Close stops
// every process it started.
type Manager struct {
	// Dir is the process plugins' directory, which holds their
	// executables and manifest. It defaults to the default of
	// SelfCompile.ProcessDir for the running executable.
	Dir string

	// Handshake is the host's handshake; its plugins serve with the same.
	Handshake plugin.HandshakeConfig

	// Plugins is the host's plugin map: the interfaces its process
	// plugins serve, by the kind Dispense names.
	Plugins plugin.PluginSet

	// Protocols are the protocols the host accepts; nil accepts net/rpc
	// and gRPC.
	Protocols []plugin.Protocol

	// Logger receives go-plugin's messages and what the plugins log. It
	// defaults to warnings and errors on standard error.
	Logger hclog.Logger

	mu    sync.Mutex
	procs map[string]*process
}

// process is a plugin's running process, and the sha256 it was started
// with.
type process struct {
	client *plugin.Client
	rpc    plugin.ClientProtocol
	sum    string
	stderr *tail
	kinds  map[string]any // what Dispense returned, by kind: used again while the process runs
}

// List returns the installed process plugins, read from the manifest
// again: a plugin installed since the last call is in it.
func (m *Manager) List() ([]selfcompile.ProcessPlugin, error) {
	dir, err := m.dir()
	if err != nil {
		return nil, err
	}
	return selfcompile.ReadProcessPlugins(dir)
}

func (m *Manager) dir() (string, error) {
	if m.Dir != "" {
		return m.Dir, nil
	}
	exe, err := os.Executable()
	if err == nil {
		exe, err = filepath.EvalSymlinks(exe) // as installs resolve it
	}
	if err != nil {
		return "", err
	}
	return selfcompile.DefaultProcessDir(exe), nil
}

// Dispense returns the interface kind (a key of Plugins) of the process
// plugin name, as T, starting its process if it does not run: the first
// time, after it exited, and after an install replaced its executable.
func Dispense[T any](m *Manager, name, kind string) (T, error) {
	v, _, err := dispensed[T](m, name, kind)
	return v, err
}

// dispensed is Dispense, and the process that served it.
func dispensed[T any](m *Manager, name, kind string) (T, *process, error) {
	var zero T
	p, err := m.process(name)
	if err != nil {
		return zero, nil, err
	}
	raw, err := m.dispense(p, kind)
	if err != nil {
		return zero, p, m.failed(name, p, err)
	}
	v, ok := raw.(T)
	if !ok {
		return zero, p, &Error{Plugin: name, Err: fmt.Errorf("its %q is a %T, not a %T", kind, raw, zero)}
	}
	return v, p, nil
}

// Call dispenses kind of the plugin name, as Dispense does, and runs f
// with it. An error of f is returned as an *Error that names the plugin
// and says whether its process exited meanwhile (a panic, with its
// message): the host goes on serving, and the next use starts the plugin
// again.
func Call[T any](m *Manager, name, kind string, f func(T) error) error {
	v, p, err := dispensed[T](m, name, kind)
	if err != nil {
		return err
	}
	if err := f(v); err != nil {
		return m.failed(name, p, err)
	}
	return nil
}

// dispense returns the interface kind of the running process p, asking the
// process for it once: go-plugin opens a connection to the process for
// each Dispense, which costs more than the calls themselves. The request
// is made without the Manager's lock.
func (m *Manager) dispense(p *process, kind string) (any, error) {
	m.mu.Lock()
	v, ok := p.kinds[kind]
	m.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := p.rpc.Dispense(kind)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if p.kinds == nil {
		p.kinds = map[string]any{}
	}
	p.kinds[kind] = v
	return v, nil
}

// process returns the running process of plugin name, started after its
// executable's sha256 was checked against the manifest's, if it was not
// running, has exited, or was installed again since.
func (m *Manager) process(name string) (*process, error) {
	plugins, err := m.List()
	if err != nil {
		return nil, &Error{Plugin: name, Err: err}
	}
	i := slices.IndexFunc(plugins, func(p selfcompile.ProcessPlugin) bool { return p.Name == name })
	if i < 0 {
		m.Stop(name) // removed since it started
		return nil, &Error{Plugin: name, Err: fmt.Errorf("%w (install it with plugin add --process)", ErrNotInstalled)}
	}
	info := plugins[i]
	m.mu.Lock()
	defer m.mu.Unlock()
	if p := m.procs[name]; p != nil {
		if !p.client.Exited() && p.sum == info.SHA256 {
			return p, nil
		}
		p.client.Kill()
		delete(m.procs, name)
	}
	p, err := m.start(info)
	if err != nil {
		return nil, err
	}
	if m.procs == nil {
		m.procs = map[string]*process{}
	}
	m.procs[name] = p
	return p, nil
}

// start starts the plugin's executable, once go-plugin has checked that
// its sha256 is the manifest's.
func (m *Manager) start(info selfcompile.ProcessPlugin) (*process, error) {
	sum, err := hex.DecodeString(info.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return nil, &Error{Plugin: info.Name, Err: fmt.Errorf("the manifest records no valid sha256 for it (%q): install it again", info.SHA256)}
	}
	p := &process{sum: info.SHA256, stderr: &tail{}}
	cmd := exec.Command(info.Path)
	p.client = plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  m.Handshake,
		Plugins:          m.Plugins,
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: m.protocols(),
		Logger:           m.logger(),
		Stderr:           p.stderr,
	})
	p.rpc, err = p.client.Client()
	if errors.Is(err, plugin.ErrChecksumsDoNotMatch) {
		return nil, &Error{Plugin: info.Name, Err: fmt.Errorf("%w: %s does not have the sha256 its install recorded, so it was not started; install it again with plugin add --process", ErrModified, info.Path)}
	}
	if err != nil {
		p.client.Kill()
		err = fmt.Errorf("starting %s: %w", info.Path, err)
		if cmd.Process == nil { // it never ran: nothing to wait for
			return nil, &Error{Plugin: info.Name, Err: err}
		}
		return nil, m.failed(info.Name, p, err)
	}
	return p, nil
}

// failed makes err, a failure of plugin name's process p, an *Error,
// saying whether the process has exited, which it may do a moment after
// a call failed: unless the process still answers, it waits up to a
// second for it to exit.
func (m *Manager) failed(name string, p *process, err error) error {
	e := &Error{Plugin: name, Err: err}
	if p == nil || p.rpc != nil && !p.client.Exited() && p.rpc.Ping() == nil {
		return e // it answers: the error is the call's own
	}
	for deadline := time.Now().Add(time.Second); !p.client.Exited() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	e.Exited = p.client.Exited()
	if e.Exited {
		e.Panic = p.stderr.panicLine()
	}
	return e
}

func (m *Manager) protocols() []plugin.Protocol {
	if m.Protocols != nil {
		return m.Protocols
	}
	return []plugin.Protocol{plugin.ProtocolNetRPC, plugin.ProtocolGRPC}
}

func (m *Manager) logger() hclog.Logger {
	if m.Logger != nil {
		return m.Logger
	}
	return hclog.New(&hclog.LoggerOptions{Name: "processplugin", Level: hclog.Warn, Output: os.Stderr})
}

// Stop stops the process of plugin name, if it runs; the next use starts
// it again.
func (m *Manager) Stop(name string) {
	m.mu.Lock()
	p := m.procs[name]
	delete(m.procs, name)
	m.mu.Unlock()
	if p != nil {
		p.client.Kill()
	}
}

// Close stops every process the manager started.
func (m *Manager) Close() {
	m.mu.Lock()
	procs := m.procs
	m.procs = nil
	m.mu.Unlock()
	for _, p := range procs {
		p.client.Kill()
	}
}

// tail keeps the last lines a plugin wrote on its standard error.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 16 << 10

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if len(t.buf) > tailSize {
		t.buf = t.buf[len(t.buf)-tailSize:]
	}
	return len(b), nil
}

// panicLine returns the last "panic: " line, or "".
func (t *tail) panicLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	i := bytes.LastIndex(t.buf, []byte("panic: "))
	if i < 0 {
		return ""
	}
	line, _, _ := strings.Cut(string(t.buf[i:]), "\n")
	return strings.TrimSpace(line)
}
