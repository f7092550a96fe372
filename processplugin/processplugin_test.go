package processplugin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/rpc"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	selfcompile "github.com/shazow/go-selfcompile"
)

// The test binary is the process plugin too: started with servingEnv set,
// it serves greeter and writes the file startedEnv names, so that a test
// can tell that it started.
const (
	servingEnv = "PROCESSPLUGIN_TEST_SERVE"
	startedEnv = "PROCESSPLUGIN_TEST_STARTED"
)

func TestMain(m *testing.M) {
	if os.Getenv(servingEnv) == "1" {
		if f := os.Getenv(startedEnv); f != "" {
			os.WriteFile(f, []byte("started"), 0o644)
		}
		plugin.Serve(&plugin.ServeConfig{HandshakeConfig: handshake, Plugins: plugins})
		return
	}
	os.Exit(m.Run())
}

var handshake = plugin.HandshakeConfig{ProtocolVersion: 1, MagicCookieKey: "PROCESSPLUGIN_TEST", MagicCookieValue: "greeter"}

var plugins = plugin.PluginSet{"greeter": &greeterPlugin{}}

// greeter is the interface the test's host declares.
type greeter interface {
	Greet(name string) (string, error)
}

// hello greets, and panics to greet "panic".
type hello struct{}

func (hello) Greet(name string) (string, error) {
	if name == "panic" {
		panic("the greeter cannot greet panic")
	}
	if name == "nobody" {
		return "", errors.New("the greeter greets somebody")
	}
	return "hello " + name + " from pid " + strconv.Itoa(os.Getpid()), nil
}

type greeterPlugin struct{}

func (greeterPlugin) Server(*plugin.MuxBroker) (any, error) { return &greeterServer{hello{}}, nil }
func (greeterPlugin) Client(_ *plugin.MuxBroker, c *rpc.Client) (any, error) {
	return &greeterClient{c}, nil
}

type greeterServer struct{ g greeter }

func (s *greeterServer) Greet(name string, reply *string) (err error) {
	*reply, err = s.g.Greet(name)
	return err
}

type greeterClient struct{ c *rpc.Client }

func (c *greeterClient) Greet(name string) (reply string, err error) {
	err = c.c.Call("Plugin.Greet", name, &reply)
	return reply, err
}

// install puts a copy of the test binary into dir as the process plugin
// name, and records it in the manifest beside the others.
func install(t testing.TB, dir, name string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, name)
	if err := os.WriteFile(exe, data, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	have, err := selfcompile.ReadProcessPlugins(dir)
	if err != nil {
		t.Fatal(err)
	}
	have = append(have, selfcompile.ProcessPlugin{Name: name, ImportPath: "example.com/" + name, SHA256: hex.EncodeToString(sum[:])})
	manifest, _ := json.Marshal(map[string]any{"plugins": have})
	if err := os.WriteFile(filepath.Join(dir, selfcompile.ProcessManifest), manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	return exe
}

func newManager(t testing.TB) (*Manager, string) {
	t.Helper()
	t.Setenv(servingEnv, "1")
	dir := t.TempDir()
	m := &Manager{Dir: dir, Handshake: handshake, Plugins: plugins, Logger: hclog.NewNullLogger()}
	t.Cleanup(m.Close)
	return m, dir
}

func greet(m *Manager, name, who string) (string, error) {
	var out string
	err := Call(m, name, "greeter", func(g greeter) (err error) {
		out, err = g.Greet(who)
		return err
	})
	return out, err
}

// A manager that runs finds a plugin installed after it started, and
// starts it on its first use, once.
func TestPluginInstalledWhileRunning(t *testing.T) {
	m, dir := newManager(t)
	if _, err := greet(m, "late", "you"); !errors.Is(err, ErrNotInstalled) || !strings.Contains(err.Error(), "process plugin late") {
		t.Fatalf("before the install: %v", err)
	}
	install(t, dir, "late")
	first, err := greet(m, "late", "you")
	if err != nil || !strings.HasPrefix(first, "hello you from pid ") {
		t.Fatalf("after the install: %q, %v", first, err)
	}
	if again, err := greet(m, "late", "you"); err != nil || again != first {
		t.Errorf("a second call got %q (%v), want the same process's %q", again, err, first)
	}
	if list, err := m.List(); err != nil || len(list) != 1 || list[0].Name != "late" {
		t.Errorf("List: %+v, %v", list, err)
	}
}

// A plugin that panics in a call fails that call with an error that names
// it and its panic; the host goes on, with its other plugins, and the next
// call starts the plugin again.
func TestPanickingPlugin(t *testing.T) {
	m, dir := newManager(t)
	install(t, dir, "panicky")
	install(t, dir, "steady")
	before, err := greet(m, "panicky", "you")
	if err != nil {
		t.Fatal(err)
	}
	_, err = greet(m, "panicky", "panic")
	var pe *Error
	if !errors.As(err, &pe) || pe.Plugin != "panicky" || !pe.Exited || !strings.Contains(err.Error(), "process plugin panicky: ") ||
		!strings.Contains(err.Error(), "panic: the greeter cannot greet panic") {
		t.Fatalf("the panicking call returned %v (%#v)", err, pe)
	}
	if _, err := greet(m, "steady", "you"); err != nil {
		t.Errorf("another plugin, after the panic: %v", err)
	}
	after, err := greet(m, "panicky", "you")
	if err != nil || after == before || !strings.HasPrefix(after, "hello you from pid ") {
		t.Errorf("the call after the panic got %q (%v); before it %q: want a new process", after, err, before)
	}
}

// An executable changed on disk after its install is refused before it
// starts: it never runs.
func TestModifiedExecutableRefused(t *testing.T) {
	m, dir := newManager(t)
	exe := install(t, dir, "changed")
	f, err := os.OpenFile(exe, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	started := filepath.Join(t.TempDir(), "started")
	t.Setenv(startedEnv, started)
	_, err = greet(m, "changed", "you")
	if !errors.Is(err, ErrModified) || !strings.Contains(err.Error(), "process plugin changed: ") || !strings.Contains(err.Error(), exe) {
		t.Fatalf("a changed executable: %v", err)
	}
	if _, err := os.Stat(started); err == nil {
		t.Error("the changed executable was started")
	}
	// The check is what refused it: the same file, recorded, starts.
	os.Remove(filepath.Join(dir, selfcompile.ProcessManifest))
	install(t, dir, "changed")
	if _, err := greet(m, "changed", "you"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(started); err != nil {
		t.Error("the plugin did not write its start marker: the test cannot tell a start")
	}
}

// A plugin removed while its process runs is stopped at its next use,
// which fails as for a plugin never installed.
func TestRemovedPluginStopped(t *testing.T) {
	m, dir := newManager(t)
	install(t, dir, "gone")
	if _, err := greet(m, "gone", "you"); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	client := m.procs["gone"].client
	m.mu.Unlock()
	os.Remove(filepath.Join(dir, selfcompile.ProcessManifest))
	if _, err := greet(m, "gone", "you"); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("after the removal: %v", err)
	}
	if !client.Exited() {
		t.Error("the removed plugin's process still runs")
	}
}

// BenchmarkGreet measures a call to a greeter in the host's process
// against the same call to a process plugin: through an interface
// dispensed once, and through Call, which reads the manifest and checks
// that the plugin's process runs on every use.
func BenchmarkGreet(b *testing.B) {
	b.Run("in-process", func(b *testing.B) {
		var g greeter = hello{}
		for b.Loop() {
			if _, err := g.Greet("bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	m, dir := newManager(b)
	install(b, dir, "hello")
	b.Run("dispensed", func(b *testing.B) {
		g, err := Dispense[greeter](m, "hello", "greeter")
		if err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := g.Greet("bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Call", func(b *testing.B) {
		for b.Loop() {
			if _, err := greet(m, "hello", "bench"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// An error a plugin's method returns is the call's own: the process goes
// on, the error says it did not exit, and the next call reaches the same
// process.
func TestCallError(t *testing.T) {
	m, dir := newManager(t)
	install(t, dir, "hello")
	before, err := greet(m, "hello", "you")
	if err != nil {
		t.Fatal(err)
	}
	_, err = greet(m, "hello", "nobody")
	var e *Error
	if !errors.As(err, &e) || e.Exited || e.Plugin != "hello" || !strings.Contains(err.Error(), "the greeter greets somebody") {
		t.Fatalf("a method's error: %v (%+v)", err, e)
	}
	after, err := greet(m, "hello", "you")
	if err != nil || after != before {
		t.Errorf("after a method's error: %q, %v; want %q from the same process", after, err, before)
	}
}
