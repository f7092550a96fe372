package plugincmd

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
)

// writeFile writes a test's file, failing the test if it cannot.
func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Relative folders in a lock file are relative to the file and stay
// folders: ./metrics is the folder beside the file, not the catalog plugin
// named metrics, whether the file is named from its own directory or from
// another.
func TestReadLockFolders(t *testing.T) {
	root := t.TempDir()
	lock := filepath.Join(root, "conf", "plugins.lock")
	writeFile(t, lock, "./metrics\n../x h1:abc=\n./with space\n/abs/y\nmetrics@v1.0.0\n")
	want := []string{filepath.Join(root, "conf", "metrics"), filepath.Join(root, "x"), filepath.Join(root, "conf", "with space"), "/abs/y", "metrics@v1.0.0"}
	for _, c := range []struct{ dir, name string }{
		{filepath.Join(root, "conf"), "plugins.lock"},
		{root, filepath.Join("conf", "plugins.lock")},
	} {
		t.Chdir(c.dir)
		lock, err := readLock(c.name)
		ch := lock.change
		if err != nil {
			t.Fatalf("%s from %s: %v", c.name, c.dir, err)
		}
		if !reflect.DeepEqual(ch.Add, want) {
			t.Errorf("%s from %s adds\n%q\nwant\n%q", c.name, c.dir, ch.Add, want)
		}
		if ch.Sums[filepath.Join(root, "x")] != "h1:abc=" {
			t.Errorf("%s from %s: the hash of ../x is lost: %q", c.name, c.dir, ch.Sums)
		}
	}
}

// A plugin listed twice in a lock file, at two versions, with two hashes
// or as two spellings of one folder, is refused when the file is read,
// naming both lines: by the dry run too, and before any work.
func TestReadLockTwice(t *testing.T) {
	for _, c := range []struct{ name, content string }{
		{"two hashes", "example.com/x@v1.0.0 h1:AAAA=\n\nexample.com/x@v1.0.0 h1:BBBB=\n"},
		{"two versions", "example.com/x@v1.0.0\n# a comment\nexample.com/x@v1.1.0\n"},
		{"a name twice", "metrics\n\nmetrics@v1.2.0\n"},
		{"one folder", "./x\n\n./x/\n"},
		{"a process plugin twice", "process example.com/p@v1.0.0\n\nprocess example.com/p@v1.1.0\n"},
		{"a process plugin with a hash", "process ./p\n\nprocess ./q h1:AAAA=\n"},
	} {
		lock := filepath.Join(t.TempDir(), "plugins.lock")
		writeFile(t, lock, c.content)
		var stdout, stderr bytes.Buffer
		cmd := &Command{Name: "mytool", Stdout: &stdout, Stderr: &stderr, SelfCompile: selfcompile.SelfCompile{CacheDir: t.TempDir()}}
		err := cmd.Run(context.Background(), []string{"sync", "--dry-run", lock})
		if err == nil || !strings.Contains(err.Error(), lock+":3:") || !strings.Contains(err.Error(), lock+":1") && !strings.Contains(err.Error(), "takes no h1: hash") {
			t.Errorf("%s: sync --dry-run: %v, want an error naming lines 1 and 3", c.name, err)
		}
		if stdout.Len() > 0 {
			t.Errorf("%s: the dry run printed %q", c.name, stdout.String())
		}
	}
}

// What the program's plugins print in init goes to standard output before
// plugin list --lock prints the lock: plugin sync reads the file from the
// lock's first line, so the round trip of the README works.
func TestLockRoundTrip(t *testing.T) {
	plugins := []selfcompile.PluginInfo{
		{ImportPath: "example.com/a", Module: "example.com/a", Version: "v1.0.0", Sum: "h1:AAAA="},
		{ImportPath: "example.com/l", Module: "example.com/l", Local: "/src/l", Sum: "h1:BBBB="},
	}
	var out bytes.Buffer
	out.WriteString("aplugin activated.\nready\n") // what two plugins printed in init
	processes := []selfcompile.ProcessPlugin{
		{Name: "p", ImportPath: "example.com/p/cmd/p", Version: "v1.2.0"},
		{Name: "q", ImportPath: "example.com/q", Local: "/src/with space/q"},
	}
	if err := writeLock(&out, "mytool", plugins, processes); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(t.TempDir(), "plugins.lock")
	writeFile(t, lock, out.String())
	lf, err := readLock(lock)
	ch := lf.change
	if want := []string{"example.com/p/cmd/p@v1.2.0", "/src/with space/q"}; !reflect.DeepEqual(lf.processes, want) {
		t.Errorf("the lock's process plugins are %q, want %q", lf.processes, want)
	}
	if err != nil {
		t.Fatalf("reading what plugin list --lock printed after plugins' output: %v\n%s", err, out.String())
	}
	if want := []string{"example.com/a@v1.0.0", "/src/l"}; !reflect.DeepEqual(ch.Add, want) {
		t.Errorf("the lock adds %q, want %q", ch.Add, want)
	}
	if want := map[string]string{"example.com/a@v1.0.0": "h1:AAAA=", "/src/l": "h1:BBBB="}; !reflect.DeepEqual(ch.Sums, want) {
		t.Errorf("the lock's hashes are %q, want %q", ch.Sums, want)
	}
}

// --output FILE writes what a command prints on standard output to FILE,
// and nothing else: plugin list --json -o FILE is JSON whatever plugins
// print. A command that fails leaves FILE as it was, and
// a symlink stays a link.
func TestOutputFile(t *testing.T) {
	dir := t.TempDir()
	run := func(target string, args ...string) (string, error) {
		var stdout bytes.Buffer
		cmd := &Command{Name: "mytool", Stdout: &stdout, Stderr: &bytes.Buffer{}, SelfCompile: selfcompile.SelfCompile{Target: target, CacheDir: t.TempDir()}}
		err := cmd.Run(context.Background(), args)
		return stdout.String(), err
	}
	out := filepath.Join(dir, "plugins.json")
	if stdout, err := run("", "list", "--json", "-o", out); err != nil || stdout != "" {
		t.Fatalf("list --json -o: %v, printed %q", err, stdout)
	}
	var plugins []selfcompile.PluginInfo
	if data, err := os.ReadFile(out); err != nil || json.Unmarshal(data, &plugins) != nil {
		t.Fatalf("list --json -o wrote %q (%v), want JSON", data, err)
	}

	lock := filepath.Join(dir, "plugins.lock")
	link := filepath.Join(dir, "link.lock")
	writeFile(t, lock, "example.com/kept\n")
	if err := os.Symlink("plugins.lock", link); err != nil {
		t.Fatal(err)
	}
	if _, err := run(filepath.Join(dir, "no-such-program"), "list", "--lock", "--output", link); err == nil {
		t.Fatal("list --lock of a missing program succeeded")
	}
	if data, _ := os.ReadFile(lock); string(data) != "example.com/kept\n" {
		t.Errorf("a failed list --lock -o changed the file: %q", data)
	}
	// A command that fails after printing (add prints what it installs)
	// leaves FILE as it was too, and what it printed reaches the terminal.
	if stdout, err := run(filepath.Join(dir, "no-such-program"), "add", "-o", link, "example.com/x"); err == nil || !strings.Contains(stdout, "Installing plugin: example.com/x") {
		t.Errorf("a failed add -o: %v, printed %q; want the error, and what it printed on standard output", err, stdout)
	}
	if data, _ := os.ReadFile(lock); string(data) != "example.com/kept\n" {
		t.Errorf("a failed add -o changed the file: %q", data)
	}
	if _, err := run("", "list", "--lock", "-o", link); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("list --lock -o LINK replaced the link: %v %v", fi.Mode(), err)
	}
	if data, _ := os.ReadFile(lock); !strings.HasPrefix(string(data), lockHeader+"\n") {
		t.Errorf("list --lock -o LINK wrote %q into the file it names", data)
	}
}

// A lock file's process line matches an installed process plugin as it
// says: its folder, or its import path (or catalog name) at that version,
// or at any for none or latest; a dry run names a plugin by the name its
// executable has, a major version suffix left out.
func TestInstalledAs(t *testing.T) {
	mod := selfcompile.ProcessPlugin{Name: "foo", ImportPath: "example.com/foo/v2", Version: "v2.1.0"}
	cat := selfcompile.ProcessPlugin{Name: "greetp", ImportPath: "example.com/greetp/cmd/greetp", Version: "v1.0.0", Catalog: "greetp (sequence 3)"}
	local := selfcompile.ProcessPlugin{Name: "q", ImportPath: "example.com/q", Local: "/src/q"}
	for _, c := range []struct {
		p    selfcompile.ProcessPlugin
		spec string
		want bool
	}{
		{mod, "example.com/foo/v2@v2.1.0", true},
		{mod, "example.com/foo/v2", true},
		{mod, "example.com/foo/v2@latest", true},
		{mod, "example.com/foo/v2@v2.0.0", false},
		{cat, "greetp", true},
		{cat, "greetp@v1.0.0", true},
		{cat, "greetp@v0.9.0", false},
		{local, "/src/q", true},
		{local, "/src/other/q", false},
		{local, "example.com/q", false},
	} {
		if got := installedAs(c.p, c.spec); got != c.want {
			t.Errorf("%s installed as %s: %v, want %v", c.p.ImportPath, c.spec, got, c.want)
		}
	}
	if got := processNameOf("example.com/foo/v2@v2.1.0"); got != "foo" {
		t.Errorf("the name of example.com/foo/v2: %q, want foo", got)
	}
}
