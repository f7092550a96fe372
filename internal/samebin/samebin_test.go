package samebin

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// build builds a small program with go build -trimpath and the extra
// flags, and returns its path.
func build(t *testing.T, dir, name string, flags ...string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil || testing.Short() {
		t.Skip("builds programs with the go command")
	}
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/hello\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello\") }\n"), 0o644)
	out := filepath.Join(dir, name)
	cmd := exec.Command(gobin, append(append([]string{"build", "-trimpath"}, flags...), "-o", out, ".")...)
	cmd.Dir, cmd.Env = src, append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, msg)
	}
	return out
}

// Two builds that differ only in their build ID (the inputs it hashes)
// are the same; a byte changed anywhere else, or a stripped symbol
// table, is not.
func TestSame(t *testing.T) {
	dir := t.TempDir()
	a := build(t, dir, "a")
	data, _ := os.ReadFile(a)
	id := BuildID(a)
	if len(id) < 20 || bytes.Count(data, id) == 0 {
		t.Fatalf("build ID %q not found in the binary", id)
	}
	other := bytes.Repeat([]byte("x"), len(id))
	b := filepath.Join(dir, "b")
	copyB := bytes.ReplaceAll(data, id, other)
	if r, ok := derivedID(a); ok { // as the linker derives it from the build ID
		copy(copyB[r[0]:r[0]+r[1]], bytes.Repeat([]byte("y"), int(r[1])))
	}
	os.WriteFile(b, copyB, 0o755)
	if !bytes.Equal(BuildID(b), other) {
		t.Fatalf("the copy's build ID is %q", BuildID(b))
	}
	if same, err := Same(a, b); !same || err != nil {
		t.Errorf("builds differing in their build ID only: same %v, %v", same, err)
	}
	changed := bytes.ReplaceAll(data, id, other)
	i := bytes.Index(changed, []byte("hello"))
	changed[i] = 'j'
	os.WriteFile(b, changed, 0o755)
	if same, err := Same(a, b); same || err != nil {
		t.Errorf("a changed string: same %v, %v", same, err)
	}

	// A change to the debug information only: the same program loaded.
	data = bytes.ReplaceAll(data, id, other)
	if f, err := elf.Open(a); err == nil {
		off := f.Section(".debug_info").Offset + 100
		f.Close()
		data[off] ^= 0xff
		os.WriteFile(b, data, 0o755)
		if same, _ := Same(a, b); same {
			t.Error("a changed DWARF byte: same")
		}
		if same, err := SameLoaded(a, b); !same || err != nil {
			t.Errorf("a changed DWARF byte: same loaded %v, %v", same, err)
		}
		os.WriteFile(b, changed, 0o755)
		if same, err := SameLoaded(a, b); same || err != nil {
			t.Errorf("a changed string: same loaded %v, %v", same, err)
		}
	}

	s := build(t, dir, "s", "-ldflags=-s -w")
	noSym, noDWARF, err := Stripped(s)
	if !noSym || !noDWARF || err != nil {
		t.Errorf("-s -w build: no symbols %v, no DWARF %v, %v", noSym, noDWARF, err)
	}
	if noSym, noDWARF, _ := Stripped(a); noSym || noDWARF {
		t.Errorf("plain build: no symbols %v, no DWARF %v", noSym, noDWARF)
	}
	if same, _ := Same(a, s); same {
		t.Error("a stripped build is the same as the plain one")
	}
}

// The build ID is found wherever it is, across the comparison's chunks
// too.
func TestOccurrencesAcrossChunks(t *testing.T) {
	id := []byte("0123456789abcdef")
	data := make([]byte, 3*chunk)
	want := []int64{5, chunk - 3, chunk + 20, 2*chunk + 100, 3*chunk - int64(len(id))}
	for _, o := range want {
		copy(data[o:], id)
	}
	got, err := occurrences(bytes.NewReader(data), id)
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("occurrences %v, %v; want %v", got, err, want)
	}
}

// The C functions of a cgo program are found, and the same in two builds
// by one C compiler; a build without symbols cannot tell.
func TestSameCSizes(t *testing.T) {
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("needs a C compiler")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module example.com/c\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte("package main\n\n// int twice(int x) { return 2 * x; }\nimport \"C\"\n\nfunc main() { println(C.twice(2)) }\n"), 0o644)
	var bins []string
	for i, flags := range []string{"", "", "-s"} {
		out := filepath.Join(dir, fmt.Sprint(i))
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags="+flags, "-o", out, ".")
		cmd.Dir, cmd.Env = src, append(os.Environ(), "CGO_ENABLED=1", "GOWORK=off", "GOFLAGS=")
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, msg)
		}
		bins = append(bins, out)
	}
	if c, ok := cFuncs(bins[0]); !ok || c["twice"] == 0 {
		t.Errorf("the C function twice is not among %d C functions (%v)", len(c), ok)
	}
	if same, ok := SameCSizes(bins[0], bins[1]); !same || !ok {
		t.Errorf("two builds: same %v, ok %v", same, ok)
	}
	if _, ok := SameCSizes(bins[0], bins[2]); ok {
		t.Error("a build without symbols was told apart")
	}
}
