// Package inspect reads what a self-compiling executable carries, without
// running it: the target it was built for, the host program, the parts of
// its bundles and its plugins. It works on a binary for any target, as
// go version -m does; go-selfcompile inspect prints it.
package inspect

import (
	"cmp"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/identity"
	"github.com/shazow/go-selfcompile/internal/printable"
)

// Binary is what a self-compiling executable carries, as ReadFile reads
// it.
type Binary struct {
	// Path is the executable.
	Path string `json:"path"`
	// GOOS and GOARCH are the target it was built for, and GoVersion the
	// Go version that built it.
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	GoVersion string `json:"go_version"`
	// MainPackage and MainModule are the host program; HostVersion is its
	// module version, when known.
	MainPackage string `json:"main_package"`
	MainModule  string `json:"main_module"`
	HostVersion string `json:"host_version,omitempty"`
	// VCS is the checkout that the release was built in, as its build
	// info records it ("git 0123456789ab (2026-11-02T10:00:00Z)", with
	// ", modified" for a checkout with changes): an install keeps it, and
	// the version, in the binaries it rebuilds.
	VCS string `json:"vcs,omitempty"`
	// Toolchain is the target of the toolchain it carries ("" for none),
	// and Targets those that the generator was run for.
	Toolchain string   `json:"toolchain,omitempty"`
	Targets   []string `json:"targets,omitempty"`
	// Placement is where its shared and toolchain bundles are: "embedded"
	// in the executable, or "beside" it in the file BundleFile (as the
	// binary names it: relative to its directory, or absolute), or
	// "fetched" by installs from the URL BundleFile; an install checks the
	// file against the digests in Bundles. "proxy" is a binary that
	// embeds its source and pins the rest, which installs fetch through
	// the module proxy: the toolchain module Pinned, and the modules of
	// its go.sum.
	Placement  string `json:"placement"`
	BundleFile string `json:"bundle_file,omitempty"`
	Pinned     string `json:"pinned,omitempty"` // "golang.org/toolchain@VERSION h1:HASH"
	// Bundles are its bundles, with the size and sha256 of each.
	Bundles []Bundle `json:"bundles"`
	// Parts lists the parts of its bundles, and Plugins its plugins, with
	// where each came from.
	Parts   []Part                   `json:"parts"`
	Plugins []selfcompile.PluginInfo `json:"plugins"`
	// Processes are the process plugins installed in the directory beside
	// the executable that installs use by default (DefaultProcessDir; a
	// host that sets SelfCompile.ProcessDir keeps them elsewhere).
	Processes []selfcompile.ProcessPlugin `json:"process_plugins,omitempty"`
	// Catalog is the vendor's catalog configuration that the generator
	// gave the binary (its --catalog flags), nil for none. A program may
	// also set one in its code (SelfCompile.Vendor), which no reader of
	// the file can see.
	Catalog *Catalog `json:"catalog,omitempty"`
}

// Bundle is one of a binary's bundles: its kind (shared, toolchain,
// plugins), its size in bytes and the sha256 of its bytes before its
// trailer.
type Bundle struct {
	Kind   string `json:"kind"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Catalog is what a vendor's catalog configuration says, as a vendor
// checks a release before shipping it.
type Catalog struct {
	// Name is the catalog's name, and URL where installs fetch it.
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
	// Keys are the names of the verifier keys (name+hash, as a signed
	// catalog names its signers).
	Keys []string `json:"keys"`
	// Policy says what users may install.
	Policy catalog.Policy `json:"policy"`
	// Sequence is that of the catalog the binary carries, 0 for none;
	// EmbeddedError says why the binary's own keys do not verify it.
	Sequence      int64  `json:"sequence,omitempty"`
	EmbeddedError string `json:"embedded_error,omitempty"`
}

// Part is one part of a bundle a binary carries.
type Part struct {
	// Bundle is "shared", "toolchain" or "plugins", and Name the part's:
	// "source", "modules", "toolchain", "cache", "local" or "sums".
	Bundle string `json:"bundle"`
	Name   string `json:"name"`
	// Files and Size are its files and their uncompressed bytes.
	Files int   `json:"files"`
	Size  int64 `json:"size"`
}

// ReadFile reads what the executable at path carries, without running it.
// A file that is not a Go program, or that carries no bundle, is an error
// that matches selfcompile.ErrNoBundle; one whose bundles are damaged, an
// error that matches selfcompile.ErrBundleCorrupt. What is not a regular
// file is refused without being read.
func ReadFile(path string) (*Binary, error) {
	b, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %s: %w", path, err)
	}
	return b, nil
}

// readFile is ReadFile, its errors without the package's name and the
// path, which ReadFile writes once.
func readFile(path string) (*Binary, error) {
	x, err := exe.Open(path)
	if err != nil {
		return nil, err
	}
	defer x.Close()
	bi := x.Build
	b := &Binary{Path: path, GoVersion: bi.GoVersion, MainModule: bi.Main.Path, Plugins: []selfcompile.PluginInfo{}}
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			b.GOOS = s.Value
		case "GOARCH":
			b.GOARCH = s.Value
		}
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		b.HostVersion = v
	}
	b.VCS = identity.ID{Settings: identity.Of(bi).Settings}.String()
	b.Placement, b.Bundles = "embedded", bundles(x)
	switch {
	case x.Side != nil && x.Side.URL != "":
		b.Placement, b.BundleFile = "fetched", x.Side.URL
	case x.Side != nil:
		b.Placement, b.BundleFile = "beside", x.Side.Path
	case x.Toolchain != nil && x.Toolchain.Manifest.Module != nil:
		m := x.Toolchain.Manifest.Module
		b.Placement, b.Pinned = "proxy", bundle.ToolchainPath+"@"+m.Version+" "+m.Sum
	}
	for _, bb := range []*exe.Bundle{x.Shared, x.Toolchain, x.Plugins} {
		if bb == nil {
			continue
		}
		for _, p := range bb.Manifest.Parts {
			b.Parts = append(b.Parts, Part{Bundle: bb.Manifest.Kind, Name: p.Name, Files: p.Files, Size: p.Size})
		}
	}
	b.MainPackage, b.Targets = x.Shared.Manifest.MainPackage, x.Shared.Manifest.Targets
	if x.Toolchain != nil {
		b.Toolchain = x.Toolchain.Manifest.GOOS + "/" + x.Toolchain.Manifest.GOARCH
	}
	rec, err := exe.ReadRecord[selfcompile.PluginInfo](x)
	if err != nil {
		return nil, err
	}
	if rec.Plugins != nil {
		b.Plugins = rec.Plugins
	}
	b.HostVersion = cmp.Or(rec.HostVersion, b.HostVersion, x.Shared.Manifest.HostVersion)
	resolved, err := filepath.EvalSymlinks(path) // as installs and the Manager resolve it
	if err != nil {
		return nil, err
	}
	if b.Processes, err = selfcompile.ReadProcessPlugins(selfcompile.DefaultProcessDir(resolved)); err != nil {
		return nil, fmt.Errorf("its process plugins: %w", err)
	}
	if raw := x.Shared.Manifest.Vendor; len(raw) > 0 {
		if b.Catalog, err = readCatalog(raw); err != nil {
			return nil, fmt.Errorf("the catalog configuration: %w", err)
		}
	}
	return b, nil
}

// bundles lists x's bundles with their sizes and digests: for those in a
// side file, as x names them.
func bundles(x *exe.File) []Bundle {
	var out []Bundle
	if x.Side != nil {
		for _, sb := range x.Side.Bundles {
			out = append(out, Bundle{Kind: sb.Manifest.Kind, Size: sb.Size, SHA256: sb.SHA256})
		}
	}
	for _, bb := range []*exe.Bundle{x.Shared, x.Toolchain, x.Plugins} {
		if bb != nil && bb.SectionReader != nil {
			out = append(out, Bundle{Kind: bb.Manifest.Kind, Size: bb.Size(), SHA256: bundle.TrailerSum(bb.Trailer())})
		}
	}
	return out
}

// readCatalog reads the catalog configuration a shared bundle carries.
func readCatalog(raw []byte) (*Catalog, error) {
	var cfg catalog.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, fmt.Errorf("%w: %v", selfcompile.ErrBundleCorrupt, err)
	}
	c := &Catalog{Name: cfg.Name, URL: cfg.URL, Policy: cfg.Policy, Keys: []string{}}
	for _, k := range cfg.Keys {
		name, rest, _ := strings.Cut(k, "+")
		hash, _, _ := strings.Cut(rest, "+")
		c.Keys = append(c.Keys, name+"+"+hash)
	}
	if len(cfg.Embedded) > 0 {
		if cat, err := catalog.Open(cfg.Embedded, cfg.Keys); err != nil {
			c.EmbeddedError = err.Error()
		} else {
			c.Sequence = cat.Sequence
		}
	}
	return c, nil
}

// String formats what the binary carries for a person.
func (b *Binary) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s: %s %s/%s, %s\n", b.Path, b.MainPackage, b.GOOS, b.GOARCH, b.GoVersion)
	if b.HostVersion != "" {
		fmt.Fprintf(&s, "  host     %s %s\n", b.MainModule, b.HostVersion)
	}
	if b.VCS != "" {
		fmt.Fprintf(&s, "  vcs      %s\n", b.VCS)
	}
	fmt.Fprintf(&s, "  toolchain %s (generated for %s)\n", cmp.Or(b.Toolchain, "(none)"), strings.Join(b.Targets, ", "))
	switch b.Placement {
	case "beside":
		fmt.Fprintf(&s, "  bundles  beside the executable, in %s\n", printable.String(b.BundleFile))
	case "fetched":
		fmt.Fprintf(&s, "  bundles  fetched by installs from %s\n", printable.String(b.BundleFile))
	case "proxy":
		fmt.Fprintf(&s, "  bundles  embedded: the source; installs fetch through the module proxy the modules of its go.sum and %s\n", printable.String(b.Pinned))
	default:
		fmt.Fprintf(&s, "  bundles  embedded\n")
	}
	for _, bb := range b.Bundles {
		fmt.Fprintf(&s, "  bundle   %-9s %8.1f MB sha256 %s\n", bb.Kind, float64(bb.Size)/1e6, bb.SHA256)
	}
	for _, p := range b.Parts {
		fmt.Fprintf(&s, "  part     %-9s %-9s %6d files %8.1f MB\n", p.Bundle, p.Name, p.Files, float64(p.Size)/1e6)
	}
	if c := b.Catalog; c != nil {
		fmt.Fprintf(&s, "  catalog  %s, policy %s", printable.String(c.Name), cmp.Or(string(c.Policy.Allow), "anything"))
		if len(c.Policy.Prefixes) > 0 {
			fmt.Fprintf(&s, " and %s", strings.Join(c.Policy.Prefixes, ", "))
		}
		fmt.Fprintf(&s, ", from %s\n", cmp.Or(printable.String(c.URL), "(the embedded catalog only)"))
		for _, k := range c.Keys {
			fmt.Fprintf(&s, "  key      %s\n", printable.String(k))
		}
		switch {
		case c.EmbeddedError != "":
			fmt.Fprintf(&s, "  embedded catalog that its keys do not verify: %s\n", c.EmbeddedError)
		case c.Sequence > 0:
			fmt.Fprintf(&s, "  embedded catalog, sequence %d\n", c.Sequence)
		}
	}
	for _, p := range b.Plugins {
		fmt.Fprintf(&s, "  plugin   %s", p.Describe())
		if p.Sum != "" {
			fmt.Fprintf(&s, " %s", p.Sum)
		}
		if p.Origin != "" {
			fmt.Fprintf(&s, " (%s)", p.Origin)
		}
		s.WriteString("\n")
	}
	for _, p := range b.Processes {
		from := p.Version
		if p.Local != "" {
			from = "local " + p.Local
		}
		fmt.Fprintf(&s, "  process  %s %s %s sha256 %s\n", printable.String(p.Name), printable.String(p.ImportPath), printable.String(from), p.SHA256)
	}
	return s.String()
}
