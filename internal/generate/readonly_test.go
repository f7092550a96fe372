package generate

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// publish writes a module of files (go.mod among them) to the module
// proxy directory proxy as path@version.
func publish(t *testing.T, proxy, path, version string, files map[string]string) {
	t.Helper()
	src := t.TempDir()
	writeTree(t, src, files)
	dir := filepath.Join(proxy, path, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	zf, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	if err := modzip.CreateFromDir(zf, module.Version{Path: path, Version: version}, src); err != nil {
		t.Fatal(err)
	}
	zf.Close()
	meta := map[string]string{version + ".mod": files["go.mod"], version + ".info": `{"Version":"` + version + `"}`, "list": version + "\n"}
	for name, content := range meta {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// tidyHost sets the go environment of a test module graph (the file
// proxy proxy, a module cache in work, no checksum database) and runs go
// mod tidy in host.
func tidyHost(t *testing.T, work, proxy, host string) {
	t.Helper()
	t.Setenv("GOPROXY", "file://"+filepath.ToSlash(proxy))
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GOMODCACHE", filepath.Join(work, "modcache"))
	t.Setenv("GOWORK", "off")
	t.Setenv("GOFLAGS", "-modcacherw")
	tidy := exec.Command("go", "mod", "tidy")
	tidy.Dir = host
	if out, err := tidy.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
}

// writeTree writes files under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// The go commands that the generator runs in the host module never write
// its go.mod or go.sum, even with GOFLAGS=-mod=mod in the vendor's
// environment, where go list -m all would add the /go.mod lines of every
// module of the graph to a tidy go.sum.
func TestHostReadOnly(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	work := t.TempDir()
	proxy := filepath.Join(work, "proxy")
	publish(t, proxy, "example.com/c", "v1.0.0", map[string]string{"go.mod": "module example.com/c\n\ngo 1.21\n", "c.go": "package c\n"})
	publish(t, proxy, "example.com/b", "v1.0.0", map[string]string{"go.mod": "module example.com/b\n\ngo 1.21\n\nrequire example.com/c v1.0.0\n", "b.go": "package b\n"})
	host := filepath.Join(work, "host")
	writeTree(t, host, map[string]string{
		"go.mod":  "module example.com/host\n\ngo 1.21\n\nrequire example.com/b v1.0.0\n",
		"main.go": "package main\n\nimport _ \"example.com/b\"\n\nfunc main() {}\n",
	})
	tidyHost(t, work, proxy, host)
	gomod, _ := os.ReadFile(filepath.Join(host, "go.mod"))
	gosum, _ := os.ReadFile(filepath.Join(host, "go.sum"))

	t.Setenv("GOFLAGS", "-mod=mod -modcacherw")
	g, err := newGen(context.Background(), Options{Dir: host})
	if err != nil {
		t.Fatal(err)
	}
	removeAll(g.tmp)
	if got := g.host.buildList; len(got) != 3 || got[2] != "example.com/c v1.0.0" {
		t.Errorf("the host's build list: %q", got)
	}
	if after, _ := os.ReadFile(filepath.Join(host, "go.sum")); string(after) != string(gosum) {
		t.Errorf("the generator wrote the host's go.sum:\n%s\nwas\n%s", after, gosum)
	}
	if after, _ := os.ReadFile(filepath.Join(host, "go.mod")); string(after) != string(gomod) {
		t.Errorf("the generator wrote the host's go.mod:\n%s\nwas\n%s", after, gomod)
	}
}

// readOnlyFlags keeps the user's other flags and puts -mod=readonly in
// place of any -mod.
func TestReadOnlyFlags(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "-mod=readonly",
		"-mod=mod":                 "-mod=readonly",
		"--mod=vendor -modcacherw": "-modcacherw -mod=readonly",
		"-tags=x -modfile=alt.mod": "-tags=x -modfile=alt.mod -mod=readonly",
	} {
		if got := readOnlyFlags(in); got != want {
			t.Errorf("readOnlyFlags(%q) = %q, want %q", in, got, want)
		}
	}
}

// For a program that pins its modules by go.sum (the proxy placement),
// the generator's listing of every target fails when go.sum lacks a
// module that a build for one of them reads: here one that only the
// windows build imports.
func TestGoSumPinsEveryTarget(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	work := t.TempDir()
	proxy := filepath.Join(work, "proxy")
	publish(t, proxy, "example.com/w", "v1.0.0", map[string]string{"go.mod": "module example.com/w\n\ngo 1.21\n", "w.go": "package w\n"})
	host := filepath.Join(work, "host")
	writeTree(t, host, map[string]string{
		"go.mod":  "module example.com/host\n\ngo 1.21\n\nrequire example.com/w v1.0.0\n",
		"main.go": "package main\n\nfunc main() {}\n",
		"win.go":  "//go:build windows\n\npackage main\n\nimport _ \"example.com/w\"\n",
	})
	tidyHost(t, work, proxy, host)
	sums, _ := os.ReadFile(filepath.Join(host, "go.sum"))
	g, err := newGen(context.Background(), Options{Dir: host})
	if err != nil {
		t.Fatal(err)
	}
	defer removeAll(g.tmp)
	g.targets = []string{"linux/amd64", "windows/amd64"}
	if _, err := g.download(context.Background(), g.onlineGo()); err != nil {
		t.Fatalf("a tidy go.sum: %v", err)
	}
	var kept []string
	for _, line := range strings.Split(string(sums), "\n") {
		if !strings.HasPrefix(line, "example.com/w v1.0.0 h1:") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(filepath.Join(host, "go.sum"), []byte(strings.Join(kept, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = g.download(context.Background(), g.onlineGo())
	if err == nil || !strings.Contains(err.Error(), "missing go.sum entry") || !strings.Contains(err.Error(), "example.com/w") {
		t.Fatalf("a go.sum without the module of the windows build: %v, want an error naming it", err)
	}
}
