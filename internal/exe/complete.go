package exe

import (
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"errors"
	"fmt"
	"os"
)

// CheckComplete checks that every section of the executable at path (ELF,
// Mach-O or PE) lies within the file: that it was not truncated.
func CheckComplete(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	ends, err := sectionEnds(f)
	if err != nil {
		return err
	}
	for _, end := range ends {
		if end > uint64(fi.Size()) {
			return fmt.Errorf("it is %d bytes, and its sections reach to byte %d", fi.Size(), end)
		}
	}
	return nil
}

// sectionEnds returns where each section with content in the file ends.
func sectionEnds(f *os.File) ([]uint64, error) {
	var ends []uint64
	if ef, err := elf.NewFile(f); err == nil {
		for _, s := range ef.Sections {
			if s.Type != elf.SHT_NOBITS {
				ends = append(ends, s.Offset+s.FileSize)
			}
		}
		return ends, nil
	}
	if mf, err := macho.NewFile(f); err == nil {
		for _, l := range mf.Loads {
			if s, ok := l.(*macho.Segment); ok {
				ends = append(ends, s.Offset+s.Filesz)
			}
		}
		return ends, nil
	}
	if pf, err := pe.NewFile(f); err == nil {
		for _, s := range pf.Sections {
			ends = append(ends, uint64(s.Offset)+uint64(s.Size))
		}
		return ends, nil
	}
	return nil, errors.New("it is not an executable this library reads (ELF, Mach-O or PE)")
}
