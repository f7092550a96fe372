// Package toolchain prunes a Go toolchain to what building a program
// needs, for a bundle, and fetches one through the module proxy
// (golang.org/toolchain) for a program that pins it instead of carrying it.
package toolchain

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shazow/go-selfcompile/internal/bundle"
)

// cmdOnly are the directories of the standard library that only programs
// of the Go distribution import, never a program's build.
var cmdOnly = map[string]bool{
	"src/cmd":                        true, // Go's own commands
	"src/internal/trace/traceviewer": true, // cmd/trace's viewer: 2.7 MB of HTML
}

// boringSyso is the directory of the boringcrypto objects, which only a
// build with GOEXPERIMENT=boringcrypto links.
const boringSyso = "src/crypto/internal/boring/syso"

// programs are the toolchain's programs that go build runs (vet and cover
// are go test's; buildid and pack are built into the go command), in the
// order the bundle stores them: after the sources, and the compiler last,
// right after the assembler and the linker, with which it shares the most
// (cmd/internal/obj): the compressor sees only the last 16 MB. Measured on
// linux/amd64 go1.26.8, this order takes 0.2 MB less than smaller first,
// which took 0.4 MB less than name order.
var programs = []string{"bin/go", "pkg/tool/T/cgo", "pkg/tool/T/link", "pkg/tool/T/asm", "pkg/tool/T/compile"}

// Prune lists the parts of a GOROOT that building a program for
// goos/goarch needs: VERSION, go.env, the runtime's assembly headers, the
// standard library's source and then the programs. Of the source it leaves
// out tests and test data, what only Go's own commands import (cmdOnly),
// the files that no build for goos/goarch reads (platform.never: another
// platform's Go and assembly, race detector and boringcrypto objects), and
// the boringcrypto objects unless boring (GOEXPERIMENT=boringcrypto); the
// Go release tags are those of the toolchain's VERSION. The
// golang.org/toolchain module names its go.mod files _go.mod and keeps no
// execute bits; the bundle names them go.mod and marks the programs
// executable.
func Prune(root, goos, goarch string, boring bool) ([]bundle.File, error) {
	version, _ := os.ReadFile(filepath.Join(root, "VERSION")) // "go1.26.8\ntime ..."
	first, _, _ := strings.Cut(string(version), "\n")
	target := platform{goos, goarch, goMinor(strings.TrimSpace(first))}
	files := []bundle.File{{Name: "VERSION"}, {Name: "go.env"}}
	for _, sub := range []string{"pkg/include", "src"} {
		err := filepath.WalkDir(filepath.Join(root, filepath.FromSlash(sub)), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			name := filepath.ToSlash(rel)
			switch {
			case d.IsDir() && (cmdOnly[name] || d.Name() == "testdata" || name == boringSyso && !boring):
				return filepath.SkipDir
			case d.IsDir() || !d.Type().IsRegular() || strings.HasSuffix(name, "_test.go") || target.never(p):
				return nil
			case path.Base(name) == "_go.mod":
				name = path.Join(path.Dir(name), "go.mod")
			}
			files = append(files, bundle.File{Name: name, Src: p})
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading the toolchain at %s: %w", root, err)
		}
	}
	slices.SortFunc(files, func(a, b bundle.File) int { return strings.Compare(a.Name, b.Name) })
	exe := ""
	if goos == "windows" {
		exe = ".exe"
	}
	for _, name := range programs {
		name = strings.Replace(name, "/T/", "/"+goos+"_"+goarch+"/", 1) + exe
		files = append(files, bundle.File{Name: name, Exec: true})
	}
	for i, f := range files {
		if f.Src == "" {
			files[i].Src = filepath.Join(root, filepath.FromSlash(f.Name))
			if _, err := os.Stat(files[i].Src); err != nil {
				return nil, fmt.Errorf("the toolchain at %s is incomplete: %w", root, err)
			}
		}
	}
	return files, nil
}
