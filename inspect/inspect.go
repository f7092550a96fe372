// Package inspect reads what a self-compiling executable carries, without
// running it: the target it was built for, the host program, the parts of
// its bundles and its plugins. It works on a binary for any target, as
// go version -m does; go-selfcompile inspect prints it.
package inspect

import (
	"cmp"
	"fmt"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/internal/exe"
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
	// Toolchain is the target of the toolchain it carries ("" for none),
	// and Targets those that the generator was run for.
	Toolchain string   `json:"toolchain,omitempty"`
	Targets   []string `json:"targets,omitempty"`
	// Parts lists the parts of its bundles, and Plugins its plugins, with
	// where each came from.
	Parts   []Part                   `json:"parts"`
	Plugins []selfcompile.PluginInfo `json:"plugins"`
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
	x, err := exe.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %s: %w", path, err)
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
		return nil, fmt.Errorf("inspect: %s: %w", path, err)
	}
	if rec.Plugins != nil {
		b.Plugins = rec.Plugins
	}
	b.HostVersion = cmp.Or(rec.HostVersion, b.HostVersion, x.Shared.Manifest.HostVersion)
	return b, nil
}

// String formats what the binary carries for a person.
func (b *Binary) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s: %s %s/%s, %s\n", b.Path, b.MainPackage, b.GOOS, b.GOARCH, b.GoVersion)
	if b.HostVersion != "" {
		fmt.Fprintf(&s, "  host     %s %s\n", b.MainModule, b.HostVersion)
	}
	fmt.Fprintf(&s, "  toolchain %s (generated for %s)\n", cmp.Or(b.Toolchain, "(none)"), strings.Join(b.Targets, ", "))
	for _, p := range b.Parts {
		fmt.Fprintf(&s, "  part     %-9s %-9s %6d files %8.1f MB\n", p.Bundle, p.Name, p.Files, float64(p.Size)/1e6)
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
	return s.String()
}
