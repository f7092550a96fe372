// Package identity keeps a program's identity across a rebuild: the main
// module's version and the version control settings that go build records
// in a release built in a checkout (vcs.revision, vcs.time, ...), which a
// rebuild from the bundled source cannot record by itself (it has no
// checkout, and Go has no flag to set them). An install builds with
// -toolexec naming a small program (toolexec/main.go, built once per
// toolchain) that writes them into the link's build info.
package identity

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gocmd"
)

//go:embed toolexec/main.go
var source []byte

// Env names the file that the toolexec program reads the identity from.
const Env = "GO_SELFCOMPILE_IDENTITY"

// ID is what of a binary's build info a rebuild keeps from the binary it
// replaces: the main module's version and sum, the version control
// settings, and the directories that replace modules as the release's
// build named them (the bundle carries them at paths of its own).
type ID struct {
	Version  string               `json:"version"`
	Sum      string               `json:"sum,omitempty"`
	Settings []debug.BuildSetting `json:"settings,omitempty"`
	// Replaced maps the path of a module replaced by a directory to that
	// directory.
	Replaced map[string]string `json:"replaced,omitempty"`
}

// Of returns the identity that bi records; the zero ID for a build in no
// checkout, with no version ("(devel)") and no module replaced by a
// directory.
func Of(bi *debug.BuildInfo) ID {
	var id ID
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		id.Version, id.Sum = v, bi.Main.Sum
	}
	for _, s := range bi.Settings {
		if IsVCS(s.Key) {
			id.Settings = append(id.Settings, s)
		}
	}
	for _, d := range bi.Deps {
		if isDirReplace(d) {
			if id.Replaced == nil {
				id.Replaced = map[string]string{}
			}
			id.Replaced[d.Path] = d.Replace.Path
		}
	}
	return id
}

// IsVCS reports whether a build setting is one that go build records from
// the checkout (vcs, vcs.revision, vcs.time, vcs.modified).
func IsVCS(key string) bool { return key == "vcs" || strings.HasPrefix(key, "vcs.") }

// IsZero reports whether id has nothing to keep.
func (id ID) IsZero() bool { return id.Version == "" && len(id.Settings) == 0 && len(id.Replaced) == 0 }

// String says what id keeps, for a person: "v1.2.0, git 0123456789ab
// (2026-11-02T10:00:00Z)", with "modified" when the checkout was.
func (id ID) String() string {
	var parts []string
	if id.Version != "" {
		parts = append(parts, id.Version)
	}
	set := map[string]string{}
	for _, s := range id.Settings {
		set[s.Key] = s.Value
	}
	if rev := set["vcs.revision"]; rev != "" {
		vcs := set["vcs"] + " " + rev[:min(len(rev), 12)]
		if t := set["vcs.time"]; t != "" {
			vcs += " (" + t + ")"
		}
		if set["vcs.modified"] == "true" {
			vcs += ", modified"
		}
		parts = append(parts, vcs)
	}
	return strings.Join(parts, ", ")
}

// Flags returns the go build arguments and the environment that have the
// build write id into the binary: the toolexec program in toolDir (built
// with g the first time) and the file in dir it reads id from. For the
// zero ID, nothing.
func Flags(ctx context.Context, g gocmd.Go, id ID, toolDir, dir string) (args, env []string, err error) {
	if id.IsZero() {
		return nil, nil, nil
	}
	tool, err := Tool(ctx, g, toolDir)
	if err != nil {
		return nil, nil, err
	}
	q, ok := gocmd.Quote(tool)
	if !ok {
		return nil, nil, fmt.Errorf("the path %s has both kinds of quote: the go command cannot run it as -toolexec", tool)
	}
	data, _ := json.Marshal(id) // cannot fail: strings only
	file := filepath.Join(dir, "identity.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		return nil, nil, err
	}
	return []string{"-toolexec=" + q}, []string{Env + "=" + file}, nil
}

// Tool returns the toolexec program in dir, built with g from its source
// when it is not there yet. dir is per toolchain: the program is built
// once for each.
func Tool(ctx context.Context, g gocmd.Go, dir string) (string, error) {
	sum := sha256.Sum256(source) // a library of another version has its own
	exe := filepath.Join(dir, "toolexec-"+hex.EncodeToString(sum[:6]))
	if runtime.GOOS == "windows" {
		exe += ".exe"
	}
	if fi, err := os.Stat(exe); err == nil && fi.Mode().IsRegular() {
		return exe, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	src, err := os.MkdirTemp(dir, "src-")
	if err != nil {
		return "", err
	}
	defer fsutil.RemoveAll(src)
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module selfcompiletoolexec\n\ngo 1.22\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), source, 0o600); err != nil {
		return "", err
	}
	g.Dir = src
	out := filepath.Join(src, filepath.Base(exe))
	if _, err := g.Run(ctx, "build", "-trimpath", "-o", out, "."); err != nil {
		return "", fmt.Errorf("building the program that keeps the binary's identity: %w", err)
	}
	if err := os.Rename(out, exe); err != nil {
		if _, serr := os.Stat(exe); serr == nil {
			return exe, nil // another install put its own, the same program, in use
		}
		return "", err
	}
	return exe, nil
}

// isDirReplace reports whether a module of the build is replaced by a
// directory: a replacement without version ("(devel)") and sum.
func isDirReplace(d *debug.Module) bool {
	return d.Replace != nil && d.Replace.Sum == "" && (d.Replace.Version == "" || d.Replace.Version == "(devel)")
}
