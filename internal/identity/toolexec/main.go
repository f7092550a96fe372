// Command toolexec is the -toolexec program of an install: it runs each
// tool the go command runs, unchanged, except that before the link it
// writes into the link's importcfg the identity that the installed binary
// had and a rebuild cannot know, which a file named by
// GO_SELFCOMPILE_IDENTITY holds (JSON: the main module's version and sum,
// the version control settings, and the directories of the modules that a
// directory replaces, as the release's machine named them). go version -m, govulncheck and SBOM
// tools then see the same program and version in the rebuilt binary.
//
// The go command hashes what each tool prints for -V=full, not the
// -toolexec program, into its cache keys: passing the tools through
// leaves the build cache shared with builds made without it. It asks each
// tool at the start of every build, one after the other; this program
// keeps each answer in a file beside itself and gives it from there the
// next time (see version).
//
// It is built by the install, with the toolchain the binary carries, from
// this one file: it imports the standard library only.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// identityEnv names the file with the identity to write.
const identityEnv = "GO_SELFCOMPILE_IDENTITY"

// identity is what the file holds.
type identity struct {
	Version  string               `json:"version"`
	Sum      string               `json:"sum,omitempty"`
	Settings []debug.BuildSetting `json:"settings,omitempty"`
	Replaced map[string]string    `json:"replaced,omitempty"`
}

// The markers around the build info in the link's importcfg, as
// cmd/go/internal/modload writes them.
var (
	infoStart, _ = hex.DecodeString("3077af0c9274080241e1c107e6d618e6")
	infoEnd, _   = hex.DecodeString("f932433186182072008242104116d8f2")
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: toolexec TOOL [ARG...] (a go -toolexec program)")
		os.Exit(2)
	}
	tool, args := os.Args[1], os.Args[2:]
	if len(args) == 1 && args[0] == "-V=full" {
		if exe, err := os.Executable(); err == nil {
			os.Exit(version(filepath.Dir(exe), tool, os.Stdout, os.Stderr))
		}
	}
	if file := os.Getenv(identityEnv); file != "" && isLink(tool) {
		if err := rewrite(file, args); err != nil {
			fmt.Fprintf(os.Stderr, "go-selfcompile toolexec: keeping the program's identity: %v\n", err)
			os.Exit(2)
		}
	}
	cmd := exec.Command(tool, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		os.Exit(exit.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, "go-selfcompile toolexec:", err)
		os.Exit(2)
	}
}

// version answers tool -V=full, and returns the exit code: from the file
// in dir that keeps the tool's answer (see versionFile), or else from a
// run of the tool, whose output passes through, and whose answer is kept
// there when it is a version line.
func version(dir, tool string, stdout, stderr io.Writer) int {
	file, ok := versionFile(dir, tool)
	if ok {
		if data, err := os.ReadFile(file); err == nil && isVersion(tool, data) {
			stdout.Write(data)
			return 0
		}
	}
	var out bytes.Buffer
	cmd := exec.Command(tool, "-V=full")
	cmd.Stdout, cmd.Stderr = &out, stderr
	err := cmd.Run()
	stdout.Write(out.Bytes())
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(stderr, "go-selfcompile toolexec:", err)
		return 2
	}
	if ok && isVersion(tool, out.Bytes()) {
		keep(dir, file, out.Bytes())
	}
	return 0
}

// versionFile names the file in dir that keeps what tool prints for
// -V=full. The answer depends only on the tool's program and on the GOOS,
// GOARCH and GOEXPERIMENT it runs with (cmd/internal/objabi's version
// flag), so the name is a hash of those: the tool's path, its size and its
// first 32 kB, where cmd/internal/buildid finds a program's Go build ID on
// every object format. It reports false for a tool it cannot read, or
// named by a relative path.
func versionFile(dir, tool string) (string, bool) {
	if !filepath.IsAbs(tool) {
		return "", false
	}
	f, err := os.Open(tool)
	if err != nil {
		return "", false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	head := make([]byte, 32<<10)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return "", false
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", tool, fi.Size())
	h.Write(head[:n])
	for _, k := range []string{"GOOS", "GOARCH", "GOEXPERIMENT"} {
		fmt.Fprintf(h, "\x00%s=%s", k, os.Getenv(k))
	}
	return filepath.Join(dir, "version-"+hex.EncodeToString(h.Sum(nil)[:12])), true
}

// keep writes data to file through a temporary file in dir, unless the
// file is there already (another build wrote it); a failure leaves no
// file, and the next build asks the tool again.
func keep(dir, file string, data []byte) {
	if _, err := os.Lstat(file); err == nil {
		return
	}
	f, err := os.CreateTemp(dir, "version-*.tmp")
	if err != nil {
		return
	}
	_, err = f.Write(data)
	if err = errors.Join(err, f.Close()); err == nil {
		err = os.Rename(f.Name(), file)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}

// isVersion reports whether out is a line that tool prints for -V=full:
// "compile version go1.26.8", with the experiments after it.
func isVersion(tool string, out []byte) bool {
	name := strings.TrimSuffix(filepath.Base(tool), ".exe")
	line, rest, ok := bytes.Cut(out, []byte("\n"))
	return ok && len(rest) == 0 && bytes.HasPrefix(line, []byte(name+" version "))
}

// isLink reports whether tool is the linker.
func isLink(tool string) bool {
	return strings.TrimSuffix(filepath.Base(tool), ".exe") == "link"
}

// rewrite writes the identity in file into the importcfg that the link's
// arguments name. A link without one (link -V=full) is left alone.
func rewrite(file string, args []string) error {
	cfg := ""
	for i, a := range args {
		if a == "-importcfg" && i+1 < len(args) {
			cfg = args[i+1]
		} else if v, ok := strings.CutPrefix(a, "-importcfg="); ok {
			cfg = v
		}
	}
	if cfg == "" {
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var id identity
	if err := json.Unmarshal(data, &id); err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	icfg, err := os.ReadFile(cfg)
	if err != nil {
		return err
	}
	out, err := edit(icfg, id)
	if err != nil {
		return fmt.Errorf("%s: %v", cfg, err)
	}
	return os.WriteFile(cfg, out, 0o644)
}

// edit returns the importcfg with the identity written into its modinfo
// line.
func edit(icfg []byte, id identity) ([]byte, error) {
	lines := bytes.Split(icfg, []byte("\n"))
	for i, line := range lines {
		quoted, ok := bytes.CutPrefix(line, []byte("modinfo "))
		if !ok {
			continue
		}
		s, err := strconv.Unquote(string(quoted))
		if err != nil || len(s) < len(infoStart)+len(infoEnd) ||
			s[:len(infoStart)] != string(infoStart) || s[len(s)-len(infoEnd):] != string(infoEnd) {
			return nil, errors.New("a modinfo line that is not the go command's")
		}
		info, err := debug.ParseBuildInfo(s[len(infoStart) : len(s)-len(infoEnd)])
		if err != nil {
			return nil, err
		}
		apply(info, id)
		lines[i] = []byte("modinfo " + strconv.Quote(string(infoStart)+info.String()+string(infoEnd)))
		return bytes.Join(lines, []byte("\n")), nil
	}
	return nil, errors.New("no modinfo line")
}

// apply writes id into info: the main module's version and sum, the
// directories of the modules replaced by one, and each setting, in place
// of the one of that key or after the others.
func apply(info *debug.BuildInfo, id identity) {
	if id.Version != "" {
		info.Main.Version, info.Main.Sum = id.Version, id.Sum
	}
	for _, d := range info.Deps {
		if dir, ok := id.Replaced[d.Path]; ok && isDirReplace(d) {
			d.Replace.Path = dir
		}
	}
	for _, s := range id.Settings {
		i := 0
		for i < len(info.Settings) && info.Settings[i].Key != s.Key {
			i++
		}
		if i == len(info.Settings) {
			info.Settings = append(info.Settings, s)
		} else {
			info.Settings[i] = s
		}
	}
}

// isDirReplace reports whether a module of the build is replaced by a
// directory: a replacement without version ("(devel)") and sum.
func isDirReplace(d *debug.Module) bool {
	return d.Replace != nil && d.Replace.Sum == "" && (d.Replace.Version == "" || d.Replace.Version == "(devel)")
}
