package selfcompile_test

import (
	"fmt"
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

func fileProxy(dirs ...string) string {
	var urls []string
	for _, d := range dirs {
		urls = append(urls, "file://"+filepath.ToSlash(d))
	}
	return strings.Join(urls, ",")
}
