// Package bundle is the format of the files that a self-compiling program
// carries: a tar stream compressed with zstd, whose first entry is a
// manifest and whose other entries are the files of named parts, ended by a
// zstd skippable frame that holds the sha256 and length of everything
// before it.
//
// A program carries up to three bundles, each embedded as a string: the
// shared bundle (the host's source and modules, the same for every target),
// the toolchain bundle of its GOOS/GOARCH (the Go toolchain and, with
// --warm-cache, build cache entries), and, once plugins are installed, the
// plugins bundle (local plugin sources, the modules only plugins need,
// go.sum and the plugin record). The trailer lets Locate find every bundle
// in an executable file without running it.
package bundle

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Format is the version of the bundle format that this package writes:
// 3 stores the programs of amd64 and 386 toolchains through the x86
// branch filter (x86.go). It reads 3 and formatNoFilters.
const (
	Format          = 3
	formatNoFilters = 2
)

// Bundle kinds. A Beside bundle has no parts: it describes, for a program
// whose vendor ships the shared and toolchain bundles in a file beside its
// executable (Side), that file, and is what the program embeds instead.
const (
	Shared    = "shared"
	Toolchain = "toolchain"
	Plugins   = "plugins"
	Beside    = "beside"
)

// Part names. Within a bundle, parts come in the order the manifest lists
// them.
const (
	PartSource    = "source"    // shared: the host module and the modules it replaces by directories
	PartModules   = "modules"   // shared, plugins: a module cache tree (GOMODCACHE layout)
	PartToolchain = "toolchain" // toolchain: a pruned GOROOT
	PartCache     = "cache"     // toolchain, optional: go build cache entries of the host's dependencies
	PartLocal     = "local"     // plugins: "<escaped module path>/<file>" for each plugin from a local folder
	PartSums      = "sums"      // plugins: go.sum of the last build
)

// Manifest describes a bundle. It is the bundle's first entry.
type Manifest struct {
	// Format is the bundle format version.
	Format int
	// Kind is Shared, Toolchain or Plugins.
	Kind string
	// GoVersion is the version of the Go toolchain the bundle is for, as
	// in "go1.26.8".
	GoVersion string
	// GOOS and GOARCH are the platform a toolchain bundle runs on.
	GOOS   string `json:",omitempty"`
	GOARCH string `json:",omitempty"`
	// MainModule is the host's module path and MainPackage the import path
	// of its main package.
	MainModule, MainPackage string
	// ModuleDir is the host module's root inside the source part,
	// slash-separated ("." when the part holds only the host module), and
	// MainDir the main package's directory inside the host module.
	ModuleDir string `json:",omitempty"`
	MainDir   string
	// Targets lists, in a shared bundle, the GOOS/GOARCH pairs that
	// toolchain bundles were generated for.
	Targets []string `json:",omitempty"`
	// BuildList is the module graph's build list, "path version" per
	// module (the main module without a version): the host's in a shared
	// bundle, the one the last install built in a plugins bundle.
	BuildList []string `json:",omitempty"`
	// SkipSource reports that the host source was left out of a shared
	// bundle; installs fetch it through the module proxy.
	SkipSource bool `json:",omitempty"`
	// LocalModules lists, in a plugins bundle, the modules of plugins
	// installed from a local folder, whose source the bundle carries.
	LocalModules []string `json:",omitempty"`
	// Requires lists, in a plugins bundle, the requirements that the last
	// install's go.mod had beyond the host's own and the plugins' modules,
	// as "path version": what the go command added for the plugins'
	// imports, which a later rebuild, offline, needs again.
	Requires []string `json:",omitempty"`
	// Record is, in a plugins bundle, the build record of the binary: the
	// plugins it was built with.
	Record json.RawMessage `json:",omitempty"`
	// HostVersion is, in a shared bundle, the version of the host module
	// that the vendor gave the generator (--host-version), as in
	// "v1.2.0": for a build that records none ("(devel)"), it is the
	// version that the catalog's host constraints are checked against.
	HostVersion string `json:",omitempty"`
	// Vendor is, in a shared bundle, the vendor's catalog configuration
	// (package catalog's Config) that the generator was given.
	Vendor json.RawMessage `json:",omitempty"`
	// Side is, in a Beside bundle, the file that holds the bundles.
	Side *Side `json:",omitempty"`
	// Module is, in a toolchain bundle that does not store its toolchain
	// (the vendor's choice: --bundle fetch without --bundle-url), the
	// golang.org/toolchain module that installs fetch through the module
	// proxy instead.
	Module *ToolchainModule `json:",omitempty"`
	// FetchModules reports, in a shared bundle, that its modules part was
	// left out: installs download the host's modules through the module
	// proxy, each checked against the go.sum of the source part.
	FetchModules bool `json:",omitempty"`
	// Parts lists the parts in the order they are stored.
	Parts []Part
}

// Side is a file, shipped beside a program's executable or fetched from
// its vendor, that holds its shared and toolchain bundles one after the
// other.
type Side struct {
	// Path is where the file is: relative to the executable's directory,
	// slash-separated, or absolute. "" for a fetched file.
	Path string `json:",omitempty"`
	// URL is, for a fetched file, where its vendor publishes it: an https
	// URL, or a file. Installs fetch it into their cache, by its digests.
	URL string `json:",omitempty"`
	// Bundles are the bundles the file holds, in order.
	Bundles []SideBundle
}

// ToolchainModule is a golang.org/toolchain module version, pinned by its
// hash, and the toolchain part that pruning it for the bundle's platform
// gives.
type ToolchainModule struct {
	// Version is the module's version, as in "v0.0.1-go1.26.8.linux-amd64".
	Version string
	// Sum is the h1: hash of its zip, as the checksum database has it.
	Sum string
	// Boring keeps the boringcrypto objects (GOEXPERIMENT=boringcrypto).
	Boring bool `json:",omitempty"`
	// Part is what pruning it gives: its files, size and digest.
	Part Part
}

// ToolchainPath is the module path of Go's toolchains.
const ToolchainPath = "golang.org/toolchain"

// ToolchainPart returns the toolchain part of a toolchain bundle: the one
// it stores, or the one its Module gives.
func (m *Manifest) ToolchainPart() (Part, bool) {
	if m.Module != nil {
		return m.Module.Part, true
	}
	return m.Part(PartToolchain)
}

// SideBundle is a bundle in a side file: its manifest, where it is, and
// the sha256 of its bytes before its trailer.
type SideBundle struct {
	Manifest     *Manifest
	Offset, Size int64 // Size includes the trailer
	SHA256       string
}

// SharedManifest returns the manifest of a shared bundle: m itself, or
// for a Beside bundle that of the shared bundle in the file it names (nil
// if it names none).
func (m *Manifest) SharedManifest() *Manifest {
	if m.Kind != Beside {
		return m
	}
	if m.Side != nil {
		for _, b := range m.Side.Bundles {
			if b.Manifest != nil && b.Manifest.Kind == Shared {
				return b.Manifest
			}
		}
	}
	return nil
}

// Trailer returns the trailer the bundle ends with.
func (b SideBundle) Trailer() []byte {
	sum, _ := hex.DecodeString(b.SHA256)
	return trailer(sum, b.Size-TrailerLen)
}

// Part describes one part of a bundle.
type Part struct {
	// Name is the part's name (PartSource, PartModules, ...).
	Name string
	// Files is the number of files in the part, and Size their
	// uncompressed bytes.
	Files int
	Size  int64
	// Compressed is the number of compressed bundle bytes the part took;
	// Write fills it in, and it is not stored.
	Compressed int64 `json:"-"`
	// Digest is the hex sha256 of the part's index: one line per file
	// with the sha256 of its content, its mode and its name.
	Digest string
}

// Part returns the named part and whether the bundle has it.
func (m *Manifest) Part(name string) (Part, bool) {
	for _, p := range m.Parts {
		if p.Name == name {
			return p, true
		}
	}
	return Part{}, false
}

// Size returns the uncompressed bytes of every part.
func (m *Manifest) Size() int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Size
	}
	return n
}

// File is one file that Write stores.
type File struct {
	Name string // slash path inside the part
	Src  string // path on disk
	Exec bool
}

// PartFiles is a part to write: its name and its files, in the order to
// store them (by name, but for the toolchain's programs, which come last).
type PartFiles struct {
	Name  string
	Files []File
}

var (
	// ErrCorrupt matches every error about a bundle that does not match
	// its trailer or manifest, is truncated, or holds entries that are
	// not allowed.
	ErrCorrupt = errors.New("bundle is corrupt")
	// ErrFormat matches a bundle written in a format this package does
	// not read.
	ErrFormat = errors.New("unsupported bundle format")
)

// CorruptError reports a bundle that cannot be trusted. It matches
// ErrCorrupt.
type CorruptError struct {
	Reason string
}

func (e *CorruptError) Error() string {
	return "bundle is corrupt: " + e.Reason + " (rebuild the binary with go generate and go build)"
}

// Is reports whether target is ErrCorrupt.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

func corrupt(format string, args ...any) error {
	return &CorruptError{Reason: fmt.Sprintf(format, args...)}
}
