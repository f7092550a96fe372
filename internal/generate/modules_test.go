package generate

import (
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/shazow/go-selfcompile/internal/bundle"
)

// TestDedup sorts files by name and keeps one of each name.
func TestDedup(t *testing.T) {
	got := dedup([]bundle.File{{Name: "b", Src: "1"}, {Name: "a", Src: "2"}, {Name: "b", Src: "3"}, {Name: "c"}, {Name: "a", Src: "4"}})
	var names []string
	for _, f := range got {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, []string{"a", "b", "c"}) {
		t.Errorf("dedup kept %q", names)
	}
}

// TestFileURL is a file URL that names the directory, spaces and all.
func TestFileURL(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the Unix form")
	}
	dir := filepath.Join(t.TempDir(), "a dir", "proxy#1")
	u, err := url.Parse(fileURL(dir))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "file" || u.Host != "" || u.Path != dir {
		t.Errorf("fileURL(%q) = %s: scheme %q, host %q, path %q", dir, fileURL(dir), u.Scheme, u.Host, u.Path)
	}
}
