package exe

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestCheckComplete: a whole executable passes, with bundles after its
// sections or not; one cut short, even by a byte, does not (a Go binary's
// section name table is its last section, so the cut is found when its
// headers are read; TestCheckCompleteSection checks a section past the
// end of a file whose headers are whole); nor does a file that is not an
// executable; a missing file is fs.ErrNotExist.
func TestCheckComplete(t *testing.T) {
	dir := t.TempDir()
	whole := goProgram(t, dir, "whole")
	if err := CheckComplete(whole); err != nil {
		t.Fatalf("the test binary: %v", err)
	}
	if err := CheckComplete(goProgram(t, dir, "bundled", sharedBundle(t))); err != nil {
		t.Errorf("a program with a bundle appended: %v", err)
	}
	fi, _ := os.Stat(whole)
	for _, cut := range []int64{1, fi.Size() / 2} {
		p := goProgram(t, dir, "cut")
		os.Truncate(p, fi.Size()-cut)
		if err := CheckComplete(p); err == nil {
			t.Errorf("a program %d bytes short passed", cut)
		}
	}
	text := filepath.Join(dir, "text")
	os.WriteFile(text, []byte("#!/bin/sh\n"), 0o755)
	if err := CheckComplete(text); err == nil {
		t.Error("a shell script passed")
	}
	if err := CheckComplete(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestCheckCompleteSection: an ELF file whose section table is whole but
// one of whose sections reaches past its end (a section grown in its
// header, as a file cut short before its section table would read) is
// refused; a section that takes no room in the file (.bss) may reach
// anywhere.
func TestCheckCompleteSection(t *testing.T) {
	p := goProgram(t, t.TempDir(), "prog")
	ef, err := elf.Open(p)
	if err != nil {
		t.Skipf("the test binary is not ELF: %v", err)
	}
	ef.Close()
	if ef.Class != elf.ELFCLASS64 || ef.Data != elf.ELFDATA2LSB {
		t.Skip("the test binary is not a little-endian 64-bit ELF file")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	shoff := binary.LittleEndian.Uint64(data[0x28:])
	shentsize := uint64(binary.LittleEndian.Uint16(data[0x3a:]))
	shnum := uint64(binary.LittleEndian.Uint16(data[0x3c:]))
	// grow sets the size of the first section of type typ to reach past
	// the end of the file, and returns the changed file.
	grow := func(typ elf.SectionType) string {
		out := append([]byte(nil), data...)
		for i := uint64(1); i < shnum; i++ {
			h := out[shoff+i*shentsize:]
			if elf.SectionType(binary.LittleEndian.Uint32(h[4:])) != typ {
				continue
			}
			off := binary.LittleEndian.Uint64(h[0x18:])
			binary.LittleEndian.PutUint64(h[0x20:], uint64(len(out))-off+1)
			q := filepath.Join(filepath.Dir(p), typ.String())
			if err := os.WriteFile(q, out, 0o755); err != nil {
				t.Fatal(err)
			}
			return q
		}
		t.Skipf("the test binary has no %v section", typ)
		return ""
	}
	if err := CheckComplete(grow(elf.SHT_PROGBITS)); err == nil {
		t.Error("a section past the end of the file passed")
	}
	if err := CheckComplete(grow(elf.SHT_NOBITS)); err != nil {
		t.Errorf("a .bss past the end of the file: %v", err)
	}
}
