package selfcompile_test

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// Module proxy directories that tests write: the layout GOPROXY=file://
// reads, served without a network.

// writeProxyModule adds the module in srcDir to a module proxy directory
// (the layout GOPROXY=file:// reads) as path@version.
func writeProxyModule(t *testing.T, proxy, path, version, srcDir string) {
	t.Helper()
	esc, err := module.EscapePath(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(proxy, esc, "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	zf, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	if err := modzip.CreateFromDir(zf, module.Version{Path: path, Version: version}, srcDir); err != nil {
		t.Fatal(err)
	}
	if err := zf.Close(); err != nil {
		t.Fatal(err)
	}
	gomod, err := os.ReadFile(filepath.Join(srcDir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info := fmt.Sprintf(`{"Version":%q,"Time":%q}`, version, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339))
	list, _ := os.ReadFile(filepath.Join(dir, "list"))
	for name, data := range map[string]string{
		version + ".mod":  string(gomod),
		version + ".info": info,
		"list":            string(list) + version + "\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// toolchainProxy serves the toolchain in src as golang.org/toolchain at
// version from a file proxy in work, and returns the environment of a go
// command that gets it from there, into a module cache of its own. It is
// one file proxy, as the go command requires for a toolchain that the
// checksum database does not know: it also serves, by links, the modules
// of this machine's module cache. The zip is written as the Go project
// writes toolchain zips, with every file, src/vendor's packages too (a
// module zip of x/mod/zip leaves vendored packages out).
func toolchainProxy(t *testing.T, work, version, src string) []string {
	t.Helper()
	proxy := filepath.Join(work, "proxy")
	dir := filepath.Join(proxy, "golang.org", "toolchain", "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	zf, err := os.Create(filepath.Join(dir, version+".zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		w, err := zw.Create("golang.org/toolchain@" + version + "/" + filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err := errors.Join(err, zw.Close(), zf.Close()); err != nil {
		t.Fatal(err)
	}
	info := fmt.Sprintf(`{"Version":%q,"Time":"2026-01-01T00:00:00Z"}`, version)
	for name, data := range map[string]string{version + ".mod": "module golang.org/toolchain\n", version + ".info": info, "list": version + "\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	download := filepath.Join(e2e.modcache, "cache", "download")
	entries, _ := os.ReadDir(download)
	for _, e := range entries {
		if e.Name() == "golang.org" {
			sub, _ := os.ReadDir(filepath.Join(download, e.Name()))
			for _, s := range sub {
				os.Symlink(filepath.Join(download, e.Name(), s.Name()), filepath.Join(proxy, "golang.org", s.Name()))
			}
			continue
		}
		os.Symlink(filepath.Join(download, e.Name()), filepath.Join(proxy, e.Name()))
	}
	return []string{"GOPROXY=file://" + filepath.ToSlash(proxy), "GOSUMDB=off", "GOMODCACHE=" + filepath.Join(work, "modcache"), "GOFLAGS=-modcacherw"}
}

func fileProxy(dirs ...string) string {
	var urls []string
	for _, d := range dirs {
		urls = append(urls, "file://"+filepath.ToSlash(d))
	}
	return strings.Join(urls, ",")
}
