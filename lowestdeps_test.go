package selfcompile_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pinnedHostMain is a program with a boolean flag in pflag's help, that
// adopts the library as the README says.
const pinnedHostMain = `package main

import (
	"os"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/plugincmd"
	"github.com/spf13/pflag"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "plugin" {
		plugincmd.Main(os.Args[2:], selfcompile.SelfCompile{})
	}
	pflag.Bool("verbose", false, "say more")
	pflag.Parse()
}
`

// TestAdoptKeepsHostVersions adopts the library in a program that pins
// older versions of the modules they share (pflag at v1.0.9, before its
// help printed "[=true|false]" after every boolean flag, and the others
// at the lowest versions the library works with): go mod tidy keeps every
// one, and the program's help reads as pflag v1.0.9 writes it.
func TestAdoptKeepsHostVersions(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	root, _ := os.Getwd()
	pins := map[string]string{
		"github.com/spf13/pflag":        "v1.0.9",
		"github.com/klauspost/compress": "v1.17.11",
		"golang.org/x/mod":              "v0.20.0",
		"golang.org/x/sys":              "v0.30.0",
	}
	dir := tempDir(t)
	gomod := "module example.com/pinned\n\ngo 1.26.0\n\nrequire (\n\tgithub.com/shazow/go-selfcompile v0.0.0\n"
	for mod, v := range pins {
		gomod += "\t" + mod + " " + v + "\n"
	}
	gomod += ")\n\nreplace github.com/shazow/go-selfcompile => " + root + "\n"
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(pinnedHostMain), 0o644)
	if out, err := command(dir, nil, "go", "mod", "tidy"); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
	for mod, want := range pins {
		out, err := command(dir, nil, "go", "list", "-m", "-f", "{{.Version}}", mod)
		if got := strings.TrimSpace(string(out)); err != nil || got != want {
			t.Errorf("after adopting the library, %s is %s (%v), want the program's %s", mod, got, err, want)
		}
	}
	bin := filepath.Join(dir, "pinned")
	if out, err := command(dir, nil, "go", "build", "-o", bin, "."); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, _ := exec.Command(bin, "--help").CombinedOutput()
	if !strings.Contains(string(out), "--verbose") || strings.Contains(string(out), "[=true|false]") {
		t.Errorf("the program's help reads otherwise than pflag v1.0.9 writes it:\n%s", out)
	}
}
