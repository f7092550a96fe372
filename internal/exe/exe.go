// Package exe reads what a self-compiling executable carries, from the
// file, without running it: its build info, its bundles (found by their
// trailers, the way go version -m finds build info), their manifests, the
// build record of its plugins and its build lists. Installs, rollbacks and
// inspect all read an executable through it.
package exe

import (
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/known"
)

// ErrNoBundle matches the error for a file that is not a self-compiling
// program: not a Go program, or one that carries no shared bundle.
var ErrNoBundle = errors.New("this binary carries no bundle")

// File is an executable and the bundles it carries.
type File struct {
	Path string
	// Info is the file as it was when opened: an install checks, before
	// its swap, that the path still names it.
	Info  fs.FileInfo
	Build *debug.BuildInfo
	// Shared and Toolchain are the bundles every self-compiling program
	// carries (Toolchain is nil for a target the generator was not run
	// for); Plugins, the one an install adds, is nil before the first.
	// Of a program whose shared and toolchain bundles are in a file beside
	// it, Beside is the bundle that names them, which it embeds, and Side
	// that file; Shared and Toolchain then have their manifests, and their
	// bytes once OpenSide has checked the file.
	Shared, Toolchain, Plugins, Beside *Bundle
	Side                               *bundle.Side
	// HostList is the host's build list, from the shared bundle, and
	// LastList the one the last install built, from the plugins bundle
	// (nil before the first).
	HostList, LastList gosrc.BuildList
	// Spans is where its bundles are, as checked when it was opened.
	Spans Spans

	f    *os.File
	side *os.File // the side file, once opened
}

// Spans is where the bundles of an executable are, and the identity of
// the file they were found and checked in.
type Spans struct {
	ID known.ID
	At [][2]int64 // offset and length of each bundle
}

// RememberMoved records s in k for the file now at path, if it is the
// file that was checked, renamed or with other metadata since (a new
// mode, owner or extended attribute), but with the same content: the same
// inode, size and modification time.
func (s Spans) RememberMoved(k known.Store, path string) {
	if id := known.OfPath(path); s.ID != (known.ID{}) && id.SameContent(s.ID) {
		k.Put(path, id, s.At)
	}
}

// Bundle is a bundle in an executable: its bytes, trailer included, and
// its manifest. A bundle in a side file has no bytes until OpenSide.
type Bundle struct {
	*io.SectionReader
	Manifest *bundle.Manifest
	trailer  []byte // of a bundle in a side file
}

// Trailer returns the bundle's trailer: its sha256 and length.
func (b *Bundle) Trailer() []byte {
	if b.trailer != nil {
		return b.trailer
	}
	return bundle.Trailer(b, b.Size())
}

// Reader returns a reader of the bundle from its start.
func (b *Bundle) Reader() *io.SectionReader { return io.NewSectionReader(b, 0, b.Size()) }

// Open reads the executable at path. A file that is not a regular file is
// refused before it is read (a FIFO would block); a file that is not a Go
// program or carries no shared bundle is an error that matches
// ErrNoBundle; a damaged bundle, one that matches bundle.ErrCorrupt.
func Open(path string) (*File, error) {
	return OpenKnown(path, known.Store{})
}

// OpenKnown is Open that remembers in k where the bundles of a file are,
// once their digests are checked, and skips finding and checking them
// again while the file is unchanged.
func OpenKnown(path string, k known.Store) (*File, error) {
	f, err := fsutil.OpenRegular(path)
	if err != nil {
		return nil, err
	}
	x := &File{Path: path, f: f}
	if err := x.read(k); err != nil {
		f.Close()
		return nil, err
	}
	return x, nil
}

func (x *File) read(k known.Store) (err error) {
	if x.Info, err = x.f.Stat(); err != nil {
		return err
	}
	if x.Build, err = buildinfo.Read(x.f); err != nil {
		return fmt.Errorf("%w: %s is not a Go program, or is damaged (%v)", ErrNoBundle, x.Path, err)
	}
	sections, err := x.locate(k)
	if err != nil {
		return err
	}
	for _, s := range sections {
		m, err := bundle.ReadManifest(io.NewSectionReader(s, 0, s.Size()))
		if err != nil {
			return err
		}
		if err := x.add(&Bundle{SectionReader: s, Manifest: m}); err != nil {
			return err
		}
	}
	if err := x.beside(); err != nil {
		return err
	}
	if x.Shared == nil {
		return fmt.Errorf("%w: %s carries none, so this build of the program cannot install plugins: ask its vendor for one that can (for the vendor: run go generate in its main package, then go build)", ErrNoBundle, x.Path)
	}
	if x.HostList, err = gosrc.ParseModList(x.Shared.Manifest.BuildList); err != nil {
		return &bundle.CorruptError{Reason: "the shared bundle's build list: " + err.Error()}
	}
	if x.Plugins != nil {
		if x.LastList, err = gosrc.ParseModList(x.Plugins.Manifest.BuildList); err != nil {
			return &bundle.CorruptError{Reason: "the plugins bundle's build list: " + err.Error()}
		}
	}
	return nil
}

// locate returns the sections of the bundles in the file: as k remembers
// them while the file is unchanged, or found and checked by
// bundle.Locate, and then remembered.
func (x *File) locate(k known.Store) ([]*io.SectionReader, error) {
	x.Spans.ID = known.Of(x.f)
	if k.Get(x.Path, x.Spans.ID, &x.Spans.At) {
		var found []*io.SectionReader
		for _, s := range x.Spans.At {
			found = append(found, io.NewSectionReader(x.f, s[0], s[1]))
		}
		return found, nil
	}
	found, err := bundle.Locate(x.f, x.Info.Size())
	if err != nil {
		return nil, err
	}
	for _, s := range found {
		_, off, n := s.Outer()
		x.Spans.At = append(x.Spans.At, [2]int64{off, n})
	}
	if !known.Of(x.f).SameContent(x.Spans.ID) {
		x.Spans.ID = known.ID{} // written while it was checked: nothing to remember
	}
	k.Put(x.Path, x.Spans.ID, x.Spans.At)
	return found, nil
}

// add files a bundle found in the executable under its kind.
func (x *File) add(b *Bundle) error {
	var slot **Bundle
	switch b.Manifest.Kind {
	case bundle.Shared:
		slot = &x.Shared
	case bundle.Toolchain:
		slot = &x.Toolchain
	case bundle.Plugins:
		slot = &x.Plugins
	case bundle.Beside:
		slot = &x.Beside
	default:
		return &bundle.CorruptError{Reason: fmt.Sprintf("%s carries a bundle of unknown kind %q", x.Path, b.Manifest.Kind)}
	}
	if *slot != nil {
		return &bundle.CorruptError{Reason: fmt.Sprintf("%s carries two %s bundles", x.Path, b.Manifest.Kind)}
	}
	*slot = b
	return nil
}

// beside takes, from a beside bundle, the manifests of the shared and
// toolchain bundles in the side file it names.
func (x *File) beside() error {
	if x.Beside == nil {
		return nil
	}
	side := x.Beside.Manifest.Side
	if x.Shared != nil || x.Toolchain != nil || side == nil || len(side.Bundles) != 2 || (side.Path == "") == (side.URL == "") {
		return &bundle.CorruptError{Reason: fmt.Sprintf("%s carries a beside bundle that does not name one shared and one toolchain bundle, or bundles of its own besides, or names no file (or two)", x.Path)}
	}
	var off int64
	for _, sb := range side.Bundles {
		if sb.Manifest == nil || sb.Offset != off || sb.Size <= bundle.TrailerLen || len(sb.SHA256) != 64 {
			return &bundle.CorruptError{Reason: fmt.Sprintf("%s carries a beside bundle that does not describe its file", x.Path)}
		}
		off += sb.Size
		if err := x.add(&Bundle{Manifest: sb.Manifest, trailer: sb.Trailer()}); err != nil {
			return err
		}
	}
	x.Side = side
	if x.Shared == nil || x.Toolchain == nil {
		return &bundle.CorruptError{Reason: fmt.Sprintf("%s carries a beside bundle that does not name one shared and one toolchain bundle", x.Path)}
	}
	return nil
}

// Close closes the file, and its side file if it was opened.
func (x *File) Close() error {
	if x.side != nil {
		x.side.Close()
	}
	return x.f.Close()
}

// Record is what the stub records in a binary about its plugins, of type
// P: what the running program's Installed returns, what a new binary's
// probe answers, and what the plugins bundle's manifest carries for
// readers of the file.
type Record[P any] struct {
	// HostVersion is the version of the host module that the binary was
	// built from when its source came through the module proxy
	// (--skip-source): the build info of a rebuilt binary says "(devel)".
	HostVersion string `json:"host,omitempty"`
	// Plugins are the plugins compiled in, in import path order.
	Plugins []P `json:"plugins"`
}

// ReadRecord returns the build record that x's plugins bundle carries, or
// an empty one before the first install.
func ReadRecord[P any](x *File) (Record[P], error) {
	var r Record[P]
	if x.Plugins == nil || len(x.Plugins.Manifest.Record) == 0 {
		return r, nil
	}
	if err := json.Unmarshal(x.Plugins.Manifest.Record, &r); err != nil {
		return r, &bundle.CorruptError{Reason: "the plugin record: " + err.Error()}
	}
	return r, nil
}

// SameHost reports whether x carries the bundles whose trailers are shared
// and toolchain (as HostTrailers returns them): the same build of the same
// host, whatever its plugins.
func (x *File) SameHost(shared, toolchain []byte) bool {
	s, t := x.HostTrailers()
	return (t == nil) == (toolchain == nil) && string(s) == string(shared) && string(t) == string(toolchain)
}

// HostTrailers returns the trailers of the bundles that x's stub
// registers: its shared and toolchain bundles (toolchain nil for none), or
// for a program whose bundles are beside it its beside bundle, which names
// theirs by digest, and nil.
func (x *File) HostTrailers() (shared, toolchain []byte) {
	if x.Beside != nil {
		return x.Beside.Trailer(), nil
	}
	if x.Toolchain != nil {
		toolchain = x.Toolchain.Trailer()
	}
	return x.Shared.Trailer(), toolchain
}

// StillThere checks that the path still names the file that was read,
// unchanged: not moved, deleted, replaced or rewritten in place (as cp or
// install do) meanwhile.
func (x *File) StillThere() error {
	fi, err := os.Stat(x.Path)
	if err != nil {
		return fmt.Errorf("it was moved or deleted during the install: %w", err)
	}
	if !os.SameFile(fi, x.Info) || fi.Size() != x.Info.Size() || !fi.ModTime().Equal(x.Info.ModTime()) {
		return ErrRewritten
	}
	return nil
}

// ErrRewritten is what StillThere returns for a file replaced or
// rewritten since it was read.
var ErrRewritten = errors.New("it was replaced or rewritten during the install")
