package selfcompile

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/shazow/go-selfcompile/internal/bundle"
)

// An install builds on what the executable on disk carries, read from the
// file without running it: another installer, or a package manager, may
// have replaced it since this process started. Its bundles are found by
// their trailers (bundle.Locate), the way go version -m finds build info.

// binary is an executable file and the bundles it carries.
type binary struct {
	path  string
	file  *os.File
	info  fs.FileInfo // when it was opened: an install checks it is still the same file before the swap
	build *debug.BuildInfo

	shared, toolchain, plugins    *io.SectionReader // toolchain: the bundle for this platform; plugins may be nil
	sharedM, toolchainM, pluginsM *bundle.Manifest
	record                        buildRecord
}

// openBinary reads the bundles and build record of the executable at path.
// A file that carries no shared bundle is not a self-compiling program:
// ErrNoBundle.
func openBinary(path string) (*binary, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &TargetError{Path: path, Err: err}
	}
	b := &binary{path: path, file: f}
	if err := b.read(); err != nil {
		f.Close()
		return nil, err
	}
	return b, nil
}

func (b *binary) read() (err error) {
	if b.info, err = b.file.Stat(); err != nil {
		return &TargetError{Path: b.path, Err: err}
	}
	if b.build, err = buildinfo.Read(b.file); err != nil {
		return fmt.Errorf("%w: %s is not a Go program, or is damaged: %v", ErrNoBundle, b.path, err)
	}
	sections, err := bundle.Locate(b.file, b.info.Size())
	if err != nil {
		return &TargetError{Path: b.path, Err: err}
	}
	for _, s := range sections {
		m, err := bundle.ReadManifest(io.NewSectionReader(s, 0, s.Size()))
		if err != nil {
			return err
		}
		if err := b.add(s, m); err != nil {
			return err
		}
	}
	if b.shared == nil {
		return fmt.Errorf("%w: %s carries none (run go generate in its main package, then go build)", ErrNoBundle, b.path)
	}
	if b.toolchain == nil {
		return noToolchain(b.path, b.sharedM)
	}
	if b.toolchainM.GOOS != runtime.GOOS || b.toolchainM.GOARCH != runtime.GOARCH {
		return fmt.Errorf("%w: the toolchain in %s runs on %s/%s and this is %s/%s",
			ErrPlatform, b.path, b.toolchainM.GOOS, b.toolchainM.GOARCH, runtime.GOOS, runtime.GOARCH)
	}
	if b.pluginsM != nil && len(b.pluginsM.Record) > 0 {
		if err := json.Unmarshal(b.pluginsM.Record, &b.record); err != nil {
			return &bundle.CorruptError{Reason: "plugin record: " + err.Error()}
		}
	}
	return nil
}

// add files a bundle found in the executable under its kind.
func (b *binary) add(s *io.SectionReader, m *bundle.Manifest) error {
	var slot **io.SectionReader
	var ms **bundle.Manifest
	switch m.Kind {
	case bundle.Shared:
		slot, ms = &b.shared, &b.sharedM
	case bundle.Toolchain:
		slot, ms = &b.toolchain, &b.toolchainM
	case bundle.Plugins:
		slot, ms = &b.plugins, &b.pluginsM
	default:
		return &bundle.CorruptError{Reason: fmt.Sprintf("%s carries a bundle of unknown kind %q", b.path, m.Kind)}
	}
	if *slot != nil {
		return &bundle.CorruptError{Reason: fmt.Sprintf("%s carries two %s bundles", b.path, m.Kind)}
	}
	*slot, *ms = s, m
	return nil
}

// noToolchain is the error for a binary built for a target the generator
// was not run for.
func noToolchain(path string, shared *bundle.Manifest) error {
	return fmt.Errorf("%w: %s was built for %s/%s, and its bundle was generated for %v; run go-selfcompile --targets with %s/%s added, then go build again",
		ErrNoBundle, path, runtime.GOOS, runtime.GOARCH, shared.Targets, runtime.GOOS, runtime.GOARCH)
}

// Close closes the file.
func (b *binary) Close() error { return b.file.Close() }

// sameHost reports whether the binary carries the same shared and
// toolchain bundles as other: the same build of the same host, whatever
// its plugins.
func (b *binary) sameHost(shared, toolchain []byte) bool {
	return bytes.Equal(trailerOf(b.shared), shared) && bytes.Equal(trailerOf(b.toolchain), toolchain)
}

// sized is a bundle's bytes: a section of an executable file, or an
// embedded string.
type sized interface {
	io.ReaderAt
	Size() int64
}

// trailerOf returns the trailer of a bundle: its sha256 and length, so
// equal trailers mean equal bundles.
func trailerOf(r sized) []byte {
	size := r.Size()
	if size < bundle.TrailerLen {
		return nil
	}
	t := make([]byte, bundle.TrailerLen)
	if _, err := r.ReadAt(t, size-bundle.TrailerLen); err != nil {
		return nil
	}
	return t
}

// stillThere checks, before the swap, that the path still names the file
// that the install read, unchanged: not moved, deleted, replaced or
// rewritten in place (as cp or install do) meanwhile.
func (b *binary) stillThere() error {
	fi, err := os.Stat(b.path)
	if err != nil {
		return &TargetError{Path: b.path, Err: fmt.Errorf("it was moved or deleted during the install: %w", err)}
	}
	if !os.SameFile(fi, b.info) || fi.Size() != b.info.Size() || !fi.ModTime().Equal(b.info.ModTime()) {
		return &TargetError{Path: b.path, Err: fmt.Errorf("%w: it was replaced or rewritten during the install; run the command again", ErrStale)}
	}
	return nil
}

// checkCurrent refuses a binary on disk that is another build of the host
// than the running one, as after a package manager upgraded it: building
// from either would replace the newer with the older, or mix them.
func (b *binary) checkCurrent() error {
	self, err := startExe()
	if err != nil || registered.shared == "" || !sameFile(self, b.path) {
		return nil // installing into another program's binary: it is its own source of truth
	}
	if !b.sameHost(trailerOf(strings.NewReader(registered.shared)), trailerOf(strings.NewReader(registered.toolchain))) {
		return &TargetError{Path: b.path, Err: fmt.Errorf("%w: it was replaced since this program started (by an upgrade?); run the command again with the new binary", ErrStale)}
	}
	return nil
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// startExe is the running executable as it was when the program started,
// symlinks resolved. It is resolved before any swap: afterwards
// os.Executable would name the file that was renamed aside.
var startExe = sync.OnceValues(func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("selfcompile: cannot find the running executable: %w", err)
	}
	return filepath.EvalSymlinks(exe)
})

func init() { startExe() }

// buildList returns the module versions, as "path@version", of the host's
// build list and of the last install's: removing the plugins goes back to
// the first.
func (b *binary) buildList() map[string]bool {
	lists := [][]string{b.sharedM.BuildList}
	if b.pluginsM != nil {
		lists = append(lists, b.pluginsM.BuildList)
	}
	out := map[string]bool{}
	for _, lines := range lists {
		mods, _ := parseModList([]byte(strings.Join(lines, "\n")))
		for _, m := range mods {
			if mv, ok := m.cached(); ok {
				out[mv.String()] = true
			}
		}
	}
	return out
}

// checkComplete checks that every section of an executable (ELF, Mach-O
// or PE) lies within the file: that it was not truncated.
func checkComplete(path string) error {
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
