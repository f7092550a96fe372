package selfcompile_test

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/inspect"
	"github.com/shazow/go-selfcompile/internal/bundle"
)

// toolchainFile returns a file of the toolchain bundle that the
// executable bin carries, and whether the bundle marks it executable.
func toolchainFile(t *testing.T, bin, name string) ([]byte, bool) {
	t.Helper()
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sections, _ := bundle.Locate(bytes.NewReader(data), int64(len(data)))
	for _, s := range sections {
		if m, _ := bundle.ReadManifest(io.NewSectionReader(s, 0, s.Size())); m == nil || m.Kind != bundle.Toolchain {
			continue
		}
		return bundleEntry(t, io.NewSectionReader(s, 0, s.Size()), bundle.PartToolchain+"/"+name)
	}
	t.Fatalf("%s carries no toolchain bundle", bin)
	return nil, false
}

// bundleEntry reads one entry of a bundle, as a tar reader sees it.
func bundleEntry(t *testing.T, r io.Reader, name string) ([]byte, bool) {
	t.Helper()
	zr, err := zstd.NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err != nil {
			t.Fatalf("no %s in the bundle: %v", name, err)
		}
		if hdr.Name == name {
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return data, hdr.Mode&0o111 != 0
		}
	}
}

// TestCrossTargets generates the example's bundles for linux/amd64,
// linux/arm64 and darwin/arm64 on this machine, the toolchains of the
// other targets coming from the golang.org/toolchain module through the
// module proxy. The go command each toolchain bundle carries is an
// executable of its target, and a build for each target embeds that
// target's bundle (go list, which compiles nothing). The example is built
// for linux/amd64, and cross-built for darwin/arm64 under make test-cross
// (SELFCOMPILE_TEST_CROSS=1, which CI runs: it compiles the standard
// library for darwin); inspect, reading each binary without running it,
// reports its target and its toolchain, and the linux/amd64 binary
// installs a plugin. A binary for linux/arm64 is built and run under qemu
// by make test-arm64.
func TestCrossTargets(t *testing.T) {
	setupE2E(t)
	t.Parallel() // its own binaries, and caches that installs share safely: it runs beside the others
	repo := filepath.Join(tempDir(t), "repo")
	if err := copyRepo(e2e.repo, repo); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(repo, "example", "abinary")
	if out, err := command(main, nil, e2e.gen, "--targets", "linux/amd64,linux/arm64,darwin/arm64", "--level", "fastest", "-q"); err != nil {
		t.Fatalf("generating: %v\n%s", err, out)
	}
	checks := map[string]func(t *testing.T, data []byte){
		"linux/arm64": func(t *testing.T, data []byte) {
			f, err := elf.NewFile(bytes.NewReader(data))
			if err != nil || f.Machine != elf.EM_AARCH64 {
				t.Errorf("bin/go is not a linux/arm64 executable: %v", err)
			}
		},
		"darwin/arm64": func(t *testing.T, data []byte) {
			f, err := macho.NewFile(bytes.NewReader(data))
			if err != nil || f.Cpu != macho.CpuArm64 || f.Type != macho.TypeExec {
				t.Errorf("bin/go is not a darwin/arm64 executable: %v", err)
			}
		},
		"linux/amd64": func(t *testing.T, data []byte) {
			f, err := elf.NewFile(bytes.NewReader(data))
			if err != nil || f.Machine != elf.EM_X86_64 {
				t.Errorf("bin/go is not a linux/amd64 executable: %v", err)
			}
		},
	}
	for target, check := range checks {
		t.Run(strings.ReplaceAll(target, "/", "_"), func(t *testing.T) {
			goos, goarch, _ := strings.Cut(target, "/")
			f, err := os.Open(filepath.Join(main, "selfcompilebundle", "toolchain_"+goos+"_"+goarch+".bundle"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			goBin, exec := bundleEntry(t, f, bundle.PartToolchain+"/bin/go")
			if !exec {
				t.Error("bin/go is not executable in the bundle")
			}
			check(t, goBin)
			env := []string{"GOOS=" + goos, "GOARCH=" + goarch, "CGO_ENABLED=0"}
			out, err := command(repo, env, "go", "list", "-f", "{{.EmbedFiles}}", "./example/abinary/selfcompilebundle")
			if want := "[shared.bundle toolchain_" + goos + "_" + goarch + ".bundle]\n"; err != nil || string(out) != want {
				t.Errorf("a build for %s embeds %s (%v), want %s", target, out, err, want)
			}
			bin := filepath.Join(tempDir(t), "example-abinary")
			switch {
			case target == "linux/amd64":
				if err := buildHost(repo, "./example/abinary", bin, "-ldflags", e2eLDFlags); err != nil {
					t.Fatal(err)
				}
			case target == "darwin/arm64" && os.Getenv("SELFCOMPILE_TEST_CROSS") != "":
				if out, err := command(repo, env, "go", "build", "-trimpath", "-o", bin, "./example/abinary"); err != nil {
					t.Fatalf("cross-building for %s: %v\n%s", target, err, out)
				}
			default:
				return
			}
			b, err := inspect.ReadFile(bin)
			if err != nil {
				t.Fatal(err)
			}
			if b.GOOS+"/"+b.GOARCH != target || b.Toolchain != target || len(b.Targets) != 3 {
				t.Errorf("inspect: %s/%s, toolchain %s, targets %v; want %s and three targets", b.GOOS, b.GOARCH, b.Toolchain, b.Targets, target)
			}
			if carried, _ := toolchainFile(t, bin, "bin/go"); !bytes.Equal(carried, goBin) {
				t.Errorf("the %s binary carries another go command than its target's bundle", target)
			}
			if target == "linux/amd64" {
				pluginCmd(t, bin, nil, "add", aplugin)
				if out := mustRun(t, bin); out != "aplugin activated.\nJust doing binary things\n" {
					t.Fatalf("after the install: %q", out)
				}
			}
		})
	}
}

// minimalPE returns the headers of a PE executable for amd64: enough for
// debug/pe to read it as one.
func minimalPE() []byte {
	b := make([]byte, 0x40)
	copy(b, "MZ")
	binary.LittleEndian.PutUint32(b[0x3c:], 0x40)
	b = append(b, "PE\x00\x00"...)
	coff := make([]byte, 20)
	binary.LittleEndian.PutUint16(coff[0:], pe.IMAGE_FILE_MACHINE_AMD64)
	binary.LittleEndian.PutUint16(coff[18:], pe.IMAGE_FILE_EXECUTABLE_IMAGE|pe.IMAGE_FILE_LARGE_ADDRESS_AWARE)
	b = append(b, coff...)
	return append(b, make([]byte, 64)...) // where debug/pe looks for a string table
}

// TestWindowsToolchain covers the Windows layout of the golang.org/toolchain
// module (bin/go.exe, pkg/tool/windows_amd64/*.exe, go.mod files named
// _go.mod), which the module proxy here does not serve: the test writes a
// small toolchain zip of that layout into a file proxy, with a PE header
// for bin/go.exe and a few standard library files. It also builds the
// example for linux/amd64, which that generation has no toolchain for: it
// reports ErrNoBundle, with the generator command to run.
func TestWindowsToolchain(t *testing.T) {
	setupE2E(t)
	t.Parallel() // its own binaries, and caches that installs share safely: it runs beside the others
	work := tempDir(t)
	const version = "v0.0.1-go1.26.8.windows-amd64"
	src := filepath.Join(work, "toolchain")
	files := map[string]string{
		"go.mod": "module golang.org/toolchain\n", "VERSION": "go1.26.8\n", "go.env": "GOPROXY=https://proxy.golang.org,direct\n",
		"bin/go.exe": string(minimalPE()), "bin/gofmt.exe": "MZ",
		"pkg/include/textflag.h": "#define NOSPLIT 4\n",
		"src/_go.mod":            "module std\n\ngo 1.26\n", "src/fmt/print.go": "package fmt\n", "src/fmt/print_test.go": "package fmt\n",
		"src/fmt/testdata/x": "x", "src/cmd/_go.mod": "module cmd\n", "src/cmd/go/main.go": "package main\n",
	}
	for _, tool := range []string{"asm", "cgo", "compile", "link", "vet"} {
		files["pkg/tool/windows_amd64/"+tool+".exe"] = string(minimalPE())
	}
	writeFiles(t, src, files)
	env := toolchainProxy(t, work, version, src)
	repo := filepath.Join(work, "repo")
	if err := copyRepo(e2e.repo, repo); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(repo, "example", "abinary")
	if out, err := command(main, env, e2e.gen, "--targets", "windows/amd64", "--level", "fastest", "-q"); err != nil {
		t.Fatalf("generating for windows/amd64: %v\n%s", err, out)
	}
	tc, err := os.Open(filepath.Join(main, "selfcompilebundle", "toolchain_windows_amd64.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	m, err := bundle.ReadManifest(tc)
	if err != nil || m.GOOS != "windows" || m.GOARCH != "amd64" {
		t.Fatalf("manifest: %+v %v", m, err)
	}
	for name, wantExec := range map[string]bool{"bin/go.exe": true, "pkg/tool/windows_amd64/compile.exe": true, "pkg/tool/windows_amd64/link.exe": true, "src/go.mod": false, "src/fmt/print.go": false} {
		tc.Seek(0, io.SeekStart)
		data, exec := bundleEntry(t, tc, "toolchain/"+name)
		if exec != wantExec {
			t.Errorf("%s: executable %v, want %v", name, exec, wantExec)
		}
		if name == "bin/go.exe" {
			if f, err := pe.NewFile(bytes.NewReader(data)); err != nil || f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
				t.Errorf("bin/go.exe is not a windows/amd64 executable: %v", err)
			}
		}
	}
	if m.Parts[0].Files != 10 { // VERSION go.env bin/go.exe 4 tools textflag.h src/go.mod src/fmt/print.go
		t.Errorf("the toolchain part has %d files, want the 10 that build programs", m.Parts[0].Files)
	}

	// The same repository built for this machine carries no toolchain.
	bin := filepath.Join(work, "example-abinary")
	if err := buildHost(repo, "./example/abinary", bin); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, bin, nil, "plugin", "add", aplugin)
	if err == nil || !strings.Contains(errOut, "carries no bundle") || !strings.Contains(errOut, "--targets") || !strings.Contains(errOut, "linux/amd64") {
		t.Fatalf("install from a binary without a toolchain for its target: %v\n%s%s", err, out, errOut)
	}
	sc := selfcompile.SelfCompile{Target: bin, CacheDir: filepath.Join(work, "cache"), Logger: log.New(io.Discard, "", 0)}
	sc.Plugin(aplugin)
	if err := sc.Compile(); !errors.Is(err, selfcompile.ErrNoBundle) {
		t.Errorf("err = %v, want ErrNoBundle", err)
	}
}
