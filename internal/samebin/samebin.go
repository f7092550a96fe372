// Package samebin compares two Go executables as builds: the same bytes,
// but for the go command's build ID, which hashes the inputs of the build
// (among them version control settings that only a build in a checkout
// sees) as well as its output, and the IDs the linker derives from it;
// and, when they differ, says how in terms a
// vendor can act on (symbols or DWARF stripped by -ldflags "-s -w").
package samebin

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"debug/macho"
	"debug/pe"
	"errors"
	"io"
	"maps"
	"os"
	"slices"
)

// chunk is how much of each file a comparison holds at once.
const chunk = 1 << 20

// Same reports whether the executables at a and b have the same bytes,
// where each one's Go build ID counts as the same wherever it is, and so
// does the ID the linker derives from it.
func Same(a, b string) (bool, error) {
	return compare(a, b, func(string) ([][2]int64, error) { return nil, nil })
}

// SameLoaded reports whether the executables at a and b have the same
// bytes where the system loads them into memory (the loadable segments
// of ELF, the segments but __DWARF of Mach-O), the build ID counting as
// the same: the same program, whatever their debug information and
// symbol tables. It is false for other formats.
func SameLoaded(a, b string) (bool, error) { return compare(a, b, loaded) }

// compare compares the files at a and b over the ranges (offset, length)
// that ranges gives for each, which must be the same; nil means the whole
// files, which must be of one size.
func compare(a, b string, ranges func(path string) ([][2]int64, error)) (bool, error) {
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
	ra, err := ranges(a)
	if err != nil {
		return false, err
	}
	rb, err := ranges(b)
	if err != nil || !slices.Equal(ra, rb) {
		return false, err
	}
	if ra == nil {
		ia, ea := fa.Stat()
		ib, eb := fb.Stat()
		if err := errors.Join(ea, eb); err != nil || ia.Size() != ib.Size() {
			return false, err
		}
		ra = [][2]int64{{0, ia.Size()}}
	}
	ida, idb := BuildID(a), BuildID(b)
	if len(ida) != len(idb) {
		return false, nil
	}
	skipA, err := idRanges(fa, a, ida)
	if err != nil {
		return false, err
	}
	skipB, err := idRanges(fb, b, idb)
	if err != nil {
		return false, err
	}
	for _, r := range ra {
		same, err := sameMasked(fa, fb, r, skipA, skipB)
		if !same || err != nil {
			return false, err
		}
	}
	return true, nil
}

// idRanges returns where, in the executable f at path, are the Go build
// ID id and the identifiers that the linker derives from it: the GNU
// build ID note of ELF, the LC_UUID of Mach-O.
func idRanges(f io.ReaderAt, path string, id []byte) ([][2]int64, error) {
	offs, err := occurrences(f, id)
	if err != nil {
		return nil, err
	}
	var out [][2]int64
	for _, o := range offs {
		out = append(out, [2]int64{o, int64(len(id))})
	}
	if r, ok := derivedID(path); ok {
		out = append(out, r)
	}
	return out, nil
}

// derivedID returns where the build ID that the linker derives from the Go
// build ID is: the descriptor of ELF's .note.gnu.build-id, the uuid of
// Mach-O's LC_UUID.
func derivedID(path string) ([2]int64, bool) {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		s := f.Section(".note.gnu.build-id")
		if s == nil || s.Size < 16 {
			return [2]int64{}, false
		}
		return [2]int64{int64(s.Offset) + 16, int64(s.Size) - 16}, true // after namesz, descsz, type and "GNU\0"
	}
	f, err := macho.Open(path)
	if err != nil {
		return [2]int64{}, false
	}
	defer f.Close()
	off := int64(28) // the header: 28 bytes, and 4 reserved in 64-bit files
	if f.Magic == macho.Magic64 {
		off = 32
	}
	for _, l := range f.Loads {
		raw := l.Raw()
		if len(raw) >= 24 && f.ByteOrder.Uint32(raw) == lcUUID {
			return [2]int64{off + 8, 16}, true
		}
		off += int64(len(raw))
	}
	return [2]int64{}, false
}

// lcUUID is the load command of a Mach-O file's UUID.
const lcUUID = 0x1b

// sameMasked compares the range r (offset, length) of a and b, but for
// the ranges skipA of a and skipB of b.
func sameMasked(a, b io.ReaderAt, r [2]int64, skipA, skipB [][2]int64) (bool, error) {
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for off, end := r[0], r[0]+r[1]; off < end; off += chunk {
		size := min(chunk, end-off)
		na, ea := a.ReadAt(ba[:size], off)
		nb, eb := b.ReadAt(bb[:size], off)
		if int64(na) != size || int64(nb) != size {
			return false, errors.Join(ea, eb)
		}
		for _, s := range skipA { // few: where the build IDs are
			mask(ba[:na], off, s)
		}
		for _, s := range skipB {
			mask(bb[:nb], off, s)
		}
		if !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
	}
	return true, nil
}

// loaded returns the file ranges of the segments that the system loads
// of an ELF or Mach-O executable.
func loaded(path string) ([][2]int64, error) {
	var out [][2]int64
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Filesz > 0 {
				out = append(out, [2]int64{int64(p.Off), int64(p.Filesz)})
			}
		}
		return out, nil
	}
	f, err := macho.Open(path)
	if err != nil {
		return nil, ErrFormat
	}
	defer f.Close()
	for _, l := range f.Loads {
		if s, ok := l.(*macho.Segment); ok && s.Filesz > 0 && s.Name != "__DWARF" && s.Name != "__LINKEDIT" {
			out = append(out, [2]int64{int64(s.Offset), int64(s.Filesz)})
		}
	}
	return out, nil
}

// ErrFormat is the error of SameLoaded for a file that is neither ELF nor
// Mach-O.
var ErrFormat = errors.New("not an ELF or Mach-O executable")

// mask zeroes, in buf (the file's bytes from off), the part of the range
// r (offset, length) that it holds.
func mask(buf []byte, off int64, r [2]int64) {
	lo, hi := max(r[0]-off, 0), min(r[0]+r[1]-off, int64(len(buf)))
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

// Funcs returns the size of every Go function of the executable at path,
// by name, from its pclntab, which -ldflags "-s -w" keep: the code that the
// Go compiler made, not the C code that cgo had a C compiler make.
func Funcs(path string) (map[string]uint64, error) {
	tab, err := goTable(path)
	if err != nil {
		return nil, err
	}
	out := make(map[string]uint64, len(tab.Funcs))
	for _, f := range tab.Funcs {
		out[f.Name] = f.End - f.Entry
	}
	return out, nil
}

// FuncDiffs returns the names of the Go functions that one executable has
// and the other has not, or has of another size, sorted.
func FuncDiffs(a, b string) ([]string, error) {
	fa, err := Funcs(a)
	if err != nil {
		return nil, err
	}
	fb, err := Funcs(b)
	if err != nil {
		return nil, err
	}
	var diffs []string
	for name, size := range fa {
		if s, ok := fb[name]; !ok || s != size {
			diffs = append(diffs, name)
		}
	}
	for name := range fb {
		if _, ok := fa[name]; !ok {
			diffs = append(diffs, name)
		}
	}
	slices.Sort(diffs)
	return diffs, nil
}

// goTable returns the Go function table of the executable at path.
func goTable(path string) (*gosym.Table, error) {
	pcln, text, err := pclntab(path)
	if err != nil {
		return nil, err
	}
	return gosym.NewTable(nil, gosym.NewLineTable(pcln, text))
}

// ErrNoPclntab is the error of Funcs for an executable whose function
// table it cannot find (a PE file: Windows keeps it in no section of its
// own).
var ErrNoPclntab = errors.New("no Go function table found")

// pclntab returns the Go function table of an ELF or Mach-O executable
// and the address of its text.
func pclntab(path string) ([]byte, uint64, error) {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		s, text := f.Section(".gopclntab"), f.Section(".text")
		if s == nil || text == nil {
			return nil, 0, ErrNoPclntab
		}
		data, err := s.Data()
		return data, text.Addr, err
	}
	if f, err := macho.Open(path); err == nil {
		defer f.Close()
		s, text := f.Section("__gopclntab"), f.Section("__text")
		if s == nil || text == nil {
			return nil, 0, ErrNoPclntab
		}
		data, err := s.Data()
		return data, text.Addr, err
	}
	return nil, 0, ErrNoPclntab
}

// SameCSizes reports whether two ELF executables have the same C
// functions, of the same sizes: the functions that their symbol tables
// list and their Go function tables do not, which cgo had a C compiler
// make. A C compiler other than the release's makes functions of other
// sizes (it may, rarely, make the same sizes of other bytes). ok is false
// when it cannot be told: no symbol table (-ldflags "-s"), or not ELF.
func SameCSizes(a, b string) (same, ok bool) {
	ca, okA := cFuncs(a)
	cb, okB := cFuncs(b)
	if !okA || !okB {
		return false, false
	}
	return maps.Equal(ca, cb), true
}

// cFuncs returns the sizes of the C functions of an ELF executable, by
// name: those of its symbol table that start at no Go function.
func cFuncs(path string) (map[string]uint64, bool) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil || len(syms) == 0 {
		return nil, false
	}
	tab, err := goTable(path)
	if err != nil {
		return nil, false
	}
	goEntry := make(map[uint64]bool, len(tab.Funcs))
	for _, fn := range tab.Funcs {
		goEntry[fn.Entry] = true
	}
	out := map[string]uint64{}
	for _, s := range syms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Size > 0 && !goEntry[s.Value] {
			out[s.Name] = s.Size
		}
	}
	return out, true
}
