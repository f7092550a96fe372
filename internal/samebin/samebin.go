// Package samebin compares two Go executables as builds: the same bytes,
// but for the go command's build ID, which hashes the inputs of the build
// (among them version control settings that only a build in a checkout
// sees) as well as its output; and, when they differ, says how in terms a
// vendor can act on (symbols or DWARF stripped by -ldflags "-s -w").
package samebin

import (
	"bytes"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"errors"
	"io"
	"os"
)

// chunk is how much of each file a comparison holds at once.
const chunk = 1 << 20

// Same reports whether the executables at a and b have the same bytes,
// where each one's Go build ID counts as the same wherever it is.
func Same(a, b string) (bool, error) {
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	ia, ea := fa.Stat()
	ib, eb := fb.Stat()
	if err := errors.Join(ea, eb); err != nil || ia.Size() != ib.Size() {
		return false, err
	}
	ida, idb := BuildID(a), BuildID(b)
	if len(ida) != len(idb) {
		return false, nil
	}
	offA, err := occurrences(fa, ida)
	if err != nil {
		return false, err
	}
	offB, err := occurrences(fb, idb)
	if err != nil || !equalInts(offA, offB) {
		return false, err
	}
	return sameMasked(fa, fb, offA, int64(len(ida)))
}

// sameMasked compares a and b from their start, but for the n bytes at
// each offset in skip.
func sameMasked(a, b io.ReaderAt, skip []int64, n int64) (bool, error) {
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for off := int64(0); ; off += chunk {
		na, ea := a.ReadAt(ba, off)
		nb, eb := b.ReadAt(bb, off)
		if na != nb {
			return false, nil
		}
		for _, s := range skip { // few: where the build ID is
			mask(ba[:na], off, s, n)
			mask(bb[:nb], off, s, n)
		}
		if !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || eb == io.EOF || na < chunk {
			return true, nil
		}
		if err := errors.Join(ea, eb); err != nil {
			return false, err
		}
	}
}

// mask zeroes, in buf (the file's bytes from off), the part of [s, s+n)
// that it holds.
func mask(buf []byte, off, s, n int64) {
	lo, hi := max(s-off, 0), min(s+n-off, int64(len(buf)))
	for i := lo; i < hi; i++ {
		buf[i] = 0
	}
}

// occurrences returns the offsets of id in r; none for an empty id.
func occurrences(r io.ReaderAt, id []byte) ([]int64, error) {
	if len(id) == 0 {
		return nil, nil
	}
	var offs []int64
	buf := make([]byte, chunk+len(id))
	for off := int64(0); ; off += chunk {
		n, err := r.ReadAt(buf, off)
		for i := 0; ; {
			j := bytes.Index(buf[i:n], id)
			if j < 0 || int64(i+j) >= chunk && n == len(buf) { // the next window finds those past chunk
				break
			}
			offs = append(offs, off+int64(i+j))
			i += j + 1
		}
		if err == io.EOF || n < len(buf) {
			return offs, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func equalInts(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// buildIDPrefix and buildIDEnd frame the build ID that the linker writes at
// the start of the text of a Mach-O or PE executable (ELF has it in a
// note).
var (
	buildIDPrefix = []byte("\xff Go build ID: \"")
	buildIDEnd    = []byte("\"\n \xff")
)

// BuildID returns the Go build ID of the executable at path, nil if it
// has none that can be found.
func BuildID(path string) []byte {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		return elfBuildID(f)
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer fh.Close()
	head := make([]byte, 1<<20)
	n, _ := io.ReadFull(fh, head)
	head = head[:n]
	i := bytes.Index(head, buildIDPrefix)
	if i < 0 {
		return nil
	}
	rest := head[i+len(buildIDPrefix):]
	j := bytes.Index(rest, buildIDEnd)
	if j < 0 {
		return nil
	}
	return rest[:j]
}

// elfBuildID reads the Go build ID note of an ELF executable.
func elfBuildID(f *elf.File) []byte {
	s := f.Section(".note.go.buildid")
	if s == nil {
		return nil
	}
	data, err := s.Data()
	if err != nil || len(data) < 16 {
		return nil
	}
	order := f.ByteOrder
	namesz, descsz := order.Uint32(data), order.Uint32(data[4:])
	start := 12 + (int(namesz)+3)&^3
	if start+int(descsz) > len(data) {
		return nil
	}
	return data[start : start+int(descsz)]
}

// Stripped says what of the symbol table and the DWARF debug information
// the executable at path lacks: what -ldflags "-s" and "-w" remove.
func Stripped(path string) (noSymbols, noDWARF bool, err error) {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		return f.Section(".symtab") == nil, f.Section(".debug_info") == nil && f.Section(".zdebug_info") == nil, nil
	}
	if f, err := macho.Open(path); err == nil {
		defer f.Close()
		return f.Symtab == nil || len(f.Symtab.Syms) == 0, f.Section("__debug_info") == nil && f.Section("__zdebug_info") == nil, nil
	}
	f, err := pe.Open(path)
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	return f.FileHeader.NumberOfSymbols == 0, f.Section(".debug_info") == nil && f.Section(".zdebug_info") == nil, nil
}
