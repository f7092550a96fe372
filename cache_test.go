package selfcompile_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/plugincmd"
)

// plugin cache lists the record of the catalogs verified (what refuses an
// older catalog as a rollback), and --purge keeps it while it removes the
// rest.
func TestPurgeKeepsCatalogRecord(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "go-selfcompile")
	record := filepath.Join(cache, "catalogs", "example.com_mytool.sequence")
	build := filepath.Join(cache, "build", "00", "entry")
	for _, f := range []string{record, build} {
		os.MkdirAll(filepath.Dir(f), 0o700)
		if err := os.WriteFile(f, []byte("24\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	cmd := &plugincmd.Command{SelfCompile: selfcompile.SelfCompile{CacheDir: cache}, Name: "mytool", Stdout: &out, Stderr: &out}
	if err := cmd.Run(context.Background(), []string{"cache", "--purge"}); err != nil {
		t.Fatalf("plugin cache --purge: %v\n%s", err, out.String())
	}
	if data, err := os.ReadFile(record); err != nil || string(data) != "24\n" {
		t.Errorf("after plugin cache --purge, the catalog record: %q, %v; want it kept", data, err)
	}
	if _, err := os.Stat(build); !os.IsNotExist(err) {
		t.Errorf("plugin cache --purge left the build cache: %v", err)
	}
	if !strings.Contains(out.String(), "catalogs ") || !strings.Contains(out.String(), filepath.Join(cache, "catalogs")) {
		t.Errorf("plugin cache does not list the catalogs:\n%s", out.String())
	}
}
