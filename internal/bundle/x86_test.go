package bundle

import (
	"archive/tar"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// x86Sample is machine code as the filter sees it: the go command's own
// program, and random bytes dense in CALL and JMP opcodes with offsets of
// every size, ending inside an instruction.
func x86Sample(t *testing.T) [][]byte {
	t.Helper()
	goBin, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "bin", "go"+exeSuffix()))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	dense := make([]byte, 1<<16+3)
	for i := range dense {
		switch r.IntN(4) {
		case 0:
			dense[i] = 0xE8
		case 1:
			dense[i] = []byte{0x00, 0xFF}[r.IntN(2)]
		default:
			dense[i] = byte(r.UintN(256))
		}
	}
	return [][]byte{goBin[:4<<20], dense, {0xE8, 0x01, 0x00}, nil}
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// Encoding changes the branches of real machine code, and decoding,
// whatever the sizes of the writes it is given, gives back every byte.
func TestX86RoundTrip(t *testing.T) {
	for _, orig := range x86Sample(t) {
		enc := bytes.Clone(orig)
		x86Encode(enc)
		if len(orig) > 1<<20 && bytes.Equal(enc, orig) {
			t.Fatal("encoding changed nothing in a program")
		}
		for _, chunk := range []int{1, 3, 5, 4096, 1 << 20} {
			var out bytes.Buffer
			d := &x86Decoder{w: &out}
			for rest := enc; len(rest) > 0; {
				n := min(chunk, len(rest))
				d.Write(rest[:n])
				rest = rest[n:]
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out.Bytes(), orig) {
				t.Fatalf("%d bytes decoded in writes of %d differ from the original", len(orig), chunk)
			}
		}
	}
}

// A toolchain bundle for amd64 stores its programs through the filter: it
// is smaller than without, and restores them byte for byte; other files,
// and other bundles' programs, are stored as they are.
func TestX86InBundle(t *testing.T) {
	prog := x86Sample(t)[0]
	files := map[string]string{"toolchain/bin/go*": string(prog), "toolchain/VERSION": "go1.26.8\n"}
	write := func(goarch string) []byte {
		m := &Manifest{Kind: Toolchain, GoVersion: "go1.26.8", GOOS: "linux", GOARCH: goarch}
		var buf bytes.Buffer
		if err := Write(&buf, m, testParts(t, files)[2:], LevelFastest); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	filtered, plain := write("amd64"), write("arm64")
	t.Logf("4 MB of the go command: %d bytes through the filter, %d without", len(filtered), len(plain))
	if len(filtered) >= len(plain) {
		t.Errorf("the filter saves nothing: %d bytes, %d without", len(filtered), len(plain))
	}
	out := t.TempDir()
	if err := restoreAll(filtered, out); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(out, "bin", "go")); err != nil || !bytes.Equal(got, prog) {
		t.Fatalf("the restored program differs from the original (%v)", err)
	}
}

// An entry that names a filter this package does not know is refused.
func TestUnknownFilter(t *testing.T) {
	h := &tar.Header{Name: "toolchain/bin/x", Mode: 0o755, Typeflag: tar.TypeReg, Format: tar.FormatPAX, PAXRecords: map[string]string{filterKey: "arm64"}}
	err := restoreAll(craft(t, []*tar.Header{h}, []string{"content"}, strings.Repeat("ab", 32)), t.TempDir())
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `unknown filter "arm64"`) {
		t.Fatalf("err = %v, want the unknown filter named", err)
	}
}
