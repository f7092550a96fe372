package selfcompile

// The go environment of an install: the restored toolchain, the caches,
// the user's network settings, and the build settings the binary records.

import (
	"cmp"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/shazow/go-selfcompile/hook"
	"github.com/shazow/go-selfcompile/internal/cacheprog"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/proc"
)

// netVars are the go environment variables that say how to reach modules:
// the user's, from the environment or the go env file (go env -w), are
// honoured by installs that use the network. GOCACHEPROG lets a fleet
// share a build cache. Every other GO* and CGO_* setting of the user is
// ignored: what is built is what the binary records.
var netVars = []string{"GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOINSECURE", "GOAUTH", "GOVCS", "GOCACHEPROG"}

// newGoTool prepares the go command of the restored toolchain: GOTOOLCHAIN,
// GOWORK, GOENV and GOFLAGS are the library's; the module cache holds the
// bundled modules, so the go command finds them before it asks the user's
// GOPROXY (which may be off); the build cache is shared by every host, the
// module cache kept per host; temporary files go into the workdir, which
// is removed whatever happens; and the settings recorded in the installed
// binary (GOOS, GOARCH, GOAMD64, CGO_*, ...) are reproduced.
func newGoTool(r *restored, bi *debug.BuildInfo, workdir string) gocmd.Go {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "GO") && !strings.HasPrefix(k, "CGO_") {
			env = append(env, kv)
		}
	}
	env = append(env, sharedCache(userNetEnv(), r.gocache, workdir)...)
	env = append(env,
		"GOROOT="+r.goroot,
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOENV=off",
		"GOFLAGS=-mod=mod -buildvcs=false",
		"GOCACHE="+r.gocache,
		"GOMODCACHE="+r.modcache,
		"GOPATH="+filepath.Join(r.hostDir, hostGopath),
		"GOTMPDIR="+filepath.Join(workdir, "tmp"),
	)
	env = append(env, settingsEnv(bi)...)
	return gocmd.Go{Bin: filepath.Join(r.goroot, "bin", "go"+exeSuffix()), Dir: r.module, Env: env}
}

// sharedCache puts this program, as a cache proxy (package
// internal/cacheprog), between the go command and the shared build cache
// that GOCACHEPROG names in env, if any: the build goes on from the local
// cache gocache when the shared one fails or does not answer within
// cacheprog.Timeout (plus a second a megabyte of what is sent), and the
// reason is noted in the workdir (see cacheNote). Where that cannot be done (Windows), the go
// command is given GOCACHEPROG as it is.
func sharedCache(env []string, gocache, workdir string) []string {
	i := slices.IndexFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "GOCACHEPROG=") })
	exe, err := hook.Executable()
	if i < 0 || err != nil {
		return env
	}
	cfg := cacheprog.Config{
		Remote:  strings.TrimPrefix(env[i], "GOCACHEPROG="),
		Dir:     gocache,
		Note:    filepath.Join(workdir, cacheprog.NoteFile),
		Timeout: cacheprog.Timeout,
	}
	if prog, progEnv, ok := cacheprog.Command(exe, cfg); ok {
		env[i] = "GOCACHEPROG=" + prog
		env = append(env, progEnv)
	}
	return env
}

// userNetEnv returns the user's network settings for the go command: the
// go env file's, overridden by the environment's. A process privileged
// by its file takes none: its environment is not its user's to trust.
func userNetEnv() []string {
	if proc.Privileged() {
		return nil
	}
	file := map[string]string{}
	if data, err := os.ReadFile(goEnvFile()); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
				file[k] = v
			}
		}
	}
	var env []string
	for _, k := range netVars {
		if v := cmp.Or(os.Getenv(k), file[k]); v != "" { // as the go command reads them: an empty variable is unset
			env = append(env, k+"="+v)
		}
	}
	return env
}

// userProxy returns the user's GOPROXY, "" for none (the go command's
// default).
func userProxy() string {
	for _, kv := range userNetEnv() {
		if v, ok := strings.CutPrefix(kv, "GOPROXY="); ok {
			return v
		}
	}
	return ""
}

// goEnvFile is where go env -w writes: $GOENV, or go/env in the user's
// configuration directory.
func goEnvFile() string {
	if f := os.Getenv("GOENV"); f != "" && f != "off" {
		return f
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "go", "env")
}

// settingsEnv returns the environment that reproduces the target settings
// a binary was built with. A binary built with cgo is rebuilt with cgo only
// where a C compiler is found; otherwise cgo is turned off, which the go
// command would do by itself on such a machine.
func settingsEnv(bi *debug.BuildInfo) []string {
	var env []string
	for _, s := range bi.Settings {
		k, v := s.Key, s.Value
		switch {
		case k == "CGO_ENABLED":
			if v == "1" && cCompiler() == "" {
				v = "0"
			}
			env = append(env, k+"="+v)
		case strings.HasPrefix(k, "CGO_"), strings.HasPrefix(k, "GO") && strings.ToUpper(k) == k:
			env = append(env, k+"="+v) // GOOS, GOARCH, GOAMD64, GOEXPERIMENT, GOFIPS140, ...
		}
	}
	return env
}

// cCompiler returns the C compiler that cgo would run: $CC, or gcc or
// clang on PATH; "" when there is none.
func cCompiler() string {
	if cc := os.Getenv("CC"); cc != "" {
		if p, err := exec.LookPath(strings.Fields(cc + " x")[0]); err == nil {
			return p
		}
		return ""
	}
	for _, name := range []string{"gcc", "clang"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// cCompilerMarks returns what, in the go command's output, shows that the
// C compiler failed: cgo's own messages, and the compiler's name.
func cCompilerMarks() []string {
	marks := []string{"cgo:", cCompiler()}
	if cc := os.Getenv("CC"); cc != "" {
		marks = append(marks, strings.Fields(cc + " x")[0]+":")
	}
	return marks
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
