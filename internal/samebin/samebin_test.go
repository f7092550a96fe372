package samebin

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
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
	os.WriteFile(b, bytes.ReplaceAll(data, id, other), 0o755)
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
	if err != nil || !equalInts(got, want) {
		t.Errorf("occurrences %v, %v; want %v", got, err, want)
	}
}
