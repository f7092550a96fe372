package selfcompile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/fetch"
	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// Sentinel errors. Every error the library returns for one of these
// conditions matches the sentinel with errors.Is, and only then. The
// typed errors below carry the details and match with errors.As; each
// matches one sentinel: *PluginError ErrInvalidPlugin, *NetworkError
// ErrNeedsNetwork, *BuildError ErrBuild, *VerifyError ErrVerify, and
// *TargetError ErrNotWritable when its cause is a permission (otherwise
// what its cause matches). On every one of them the executable is
// unchanged, except for a *RollbackError.
var (
	// ErrNoBundle: the binary carries no bundle for its platform (go
	// generate was not run before go build, or not for this target).
	ErrNoBundle = exe.ErrNoBundle
	// ErrBundleCorrupt: a bundle does not match its checksum or manifest,
	// is truncated, or holds entries that are not allowed.
	ErrBundleCorrupt = bundle.ErrCorrupt
	// ErrSideFile: the file beside the executable that holds its bundles
	// (go-selfcompile --bundle beside) is missing, unreadable, or not the
	// one the executable names by digest; a *SideFileError says which file,
	// where it was looked for and what is wrong.
	ErrSideFile = exe.ErrSideFile
	// ErrPinMismatch: a toolchain or module that the binary fetches
	// through the module proxy (go-selfcompile --bundle fetch without
	// --bundle-url) is not the one it pins by hash, whatever GOSUMDB,
	// GONOSUMDB, GOINSECURE or GOFLAGS say: the proxy served another file,
	// and none of it entered the cache.
	ErrPinMismatch = fetch.ErrMismatch
	// ErrBundleFormat: a bundle was written by an incompatible version.
	ErrBundleFormat = bundle.ErrFormat
	// ErrPlatform: the bundled toolchain does not run on this platform.
	ErrPlatform = errors.New("the bundle is for another platform")
	// ErrInvalidPlugin: a plugin spec is malformed, cannot be found, or
	// is not a plugin package.
	ErrInvalidPlugin = errors.New("invalid plugin")
	// ErrNeedsNetwork: an install needs a module that neither the binary
	// nor the caches hold, and the module proxy cannot be reached.
	ErrNeedsNetwork = errors.New("the install needs the network")
	// ErrNotWritable: this user may not replace the executable, or a swap
	// would lose its owner, setuid bits or file capabilities.
	ErrNotWritable = errors.New("the executable is not writable")
	// ErrPrivileged: the program runs with privileges from its file
	// (setuid, setgid, file capabilities), so it changes neither itself
	// nor its caches: its environment is not its owner's.
	ErrPrivileged = errors.New("the program runs with privileges from its file")
	// ErrStale: the executable on disk is not the build this process
	// runs, or not the program a backup belongs to.
	ErrStale = errors.New("the executable on disk is another build")
	// ErrStaleBundle: the bundle a release carries does not rebuild it
	// (its source changed after go generate, or it was built with other
	// flags or another Go), so an install would replace the program with
	// another; a *StaleBundleError says what differs. It is the vendor's
	// to fix.
	ErrStaleBundle = errors.New("the binary's bundle does not rebuild it")
	// ErrUnsafeCache: the cache directory belongs to another user or may
	// be written by others, or cannot be written at all.
	ErrUnsafeCache = errors.New("the cache directory cannot be trusted")
	// ErrBuild: the go command failed.
	ErrBuild = errors.New("build failed")
	// ErrVerify: the new binary did not pass its verification run.
	ErrVerify = errors.New("the new binary failed verification")
	// ErrLocked: another install holds the lock and the caller asked not
	// to wait, or an install uses the cache that TrimCache or PurgeCache
	// would change.
	ErrLocked = errors.New("another install is in progress")
	// ErrNoSource: the bundle holds no host source and its version is
	// unknown.
	ErrNoSource = errors.New("the host's source is not available")
	// ErrNoSpace: a disk lacks the room an install needs.
	ErrNoSpace = errors.New("not enough disk space")
	// ErrHostDepsChanged: the plugins would change the version of one of
	// the host's own dependencies, and SelfCompile.KeepHostDeps refuses it.
	ErrHostDepsChanged = errors.New("the plugins would change the host's dependencies")
	// ErrNoBackup: Rollback found no previous binary.
	ErrNoBackup = errors.New("no previous binary to roll back to")
	// ErrNotAllowed: the vendor's catalog or policy forbids the change
	// (a *catalog.RefusedError names the rule and the plugin).
	ErrNotAllowed = catalog.ErrNotAllowed
	// ErrBadCatalog: the vendor's catalog cannot be trusted: not signed by
	// a key the program carries, tampered with, for another program, or
	// older than one this machine has verified; or the program's catalog
	// configuration (SelfCompile.Vendor: keys, policy) is malformed. A
	// catalog location that holds none matches catalog.ErrMissing; one
	// that cannot be reached, ErrNeedsNetwork; an https server whose
	// certificate this machine does not trust, catalog.ErrUntrustedServer.
	ErrBadCatalog = catalog.ErrBadCatalog
	// ErrNoGoPlugins: the running program cannot load Go plugins: a
	// platform without them, or a program built without cgo or without
	// -trimpath.
	ErrNoGoPlugins = errors.New("this program cannot load Go plugins")
	// ErrNoCCompiler: a Go plugin must be linked by a C compiler, and the
	// machine has none.
	ErrNoCCompiler = errors.New("no C compiler")
	// ErrModuleMismatch: a Go plugin would need module versions other than
	// the running program's, which plugin.Open refuses.
	ErrModuleMismatch = errors.New("the plugin needs module versions other than the running program's")
	// ErrLoaded: a Go plugin, or another version of it, is already in the
	// running program, compiled in or loaded live.
	ErrLoaded = errors.New("the plugin is already in the running program")
	// ErrSign: the vendor's signing hook (SelfCompile.Sign) failed.
	ErrSign = errors.New("the signing hook failed")
	// ErrCanceled: the context ended (SIGINT, SIGTERM, a deadline) before
	// the install replaced the executable. The error also matches the
	// context's own error.
	ErrCanceled = errors.New("install canceled")
)

// PluginError reports a plugin spec that cannot be installed. It matches
// ErrInvalidPlugin.
type PluginError struct {
	// Spec is the plugin as the user gave it.
	Spec string
	// Reason says what is wrong with it.
	Reason string
	// Err is the failure that showed it, if any.
	Err error
}

// Error describes what went wrong and what to do.
func (e *PluginError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("plugin %q: %s; %v", e.Spec, e.Reason, e.Err)
	}
	return fmt.Sprintf("plugin %q: %s", e.Spec, e.Reason)
}

// Is reports whether target is ErrInvalidPlugin.
func (e *PluginError) Is(target error) bool { return target == ErrInvalidPlugin }

// Unwrap returns the failure that showed the problem, if any.
func (e *PluginError) Unwrap() error { return e.Err }

// NetworkError reports, before anything is built, a module that an
// install needs and that only the network has. It matches ErrNeedsNetwork.
type NetworkError struct {
	// Plugins are the plugins that need the module (all those being added
	// when the go command does not say).
	Plugins []string
	// Module and Version name the module; Version may be a query, as
	// "latest".
	Module, Version string
	// Reason is what the go command said.
	Reason string
}

// Error describes what went wrong and what to do.
func (e *NetworkError) Error() string {
	return fmt.Sprintf("plugin %s needs %s@%s, which this binary does not carry and the module proxy did not give (%s); nothing was built: connect to the network, set GOPROXY to a proxy that has it, or install a version of the plugin whose modules the binary carries",
		strings.Join(e.Plugins, ", "), e.Module, e.Version, e.Reason)
}

// Is reports whether target is ErrNeedsNetwork.
func (e *NetworkError) Is(target error) bool { return target == ErrNeedsNetwork }

// offlineError is an error whose cause is the network, which the install
// may not use or cannot reach: it matches ErrNeedsNetwork besides what
// the error matches.
type offlineError struct{ error }

// Is reports whether target is ErrNeedsNetwork.
func (e *offlineError) Is(target error) bool { return target == ErrNeedsNetwork }

// Unwrap returns the error.
func (e *offlineError) Unwrap() error { return e.error }

// BuildError reports a failed go command. It matches ErrBuild.
type BuildError struct {
	// Plugins lists the plugins the failure is attributed to: those whose
	// packages the compiler output names. It is empty when the failure is
	// in the host, the standard library or the C compiler.
	Plugins []string
	// Step is the go command that failed, as in "go build".
	Step string
	// Cause says, when it is known, what failed other than a plugin: the
	// C compiler, for example.
	Cause string
	// Output is what the go command printed.
	Output string
}

// Error describes what went wrong and what to do.
func (e *BuildError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s failed", e.Step)
	if len(e.Plugins) > 0 {
		fmt.Fprintf(&b, " for plugin %s", strings.Join(e.Plugins, ", "))
	}
	if e.Cause != "" {
		b.WriteString(": " + e.Cause)
	}
	b.WriteString("; the installed binary is unchanged")
	if out := strings.TrimSpace(e.Output); out != "" {
		b.WriteString(":\n" + out)
	}
	return b.String()
}

// Is reports whether target is ErrBuild.
func (e *BuildError) Is(target error) bool { return target == ErrBuild }

// VerifyError reports a new binary that failed its verification run. It
// matches ErrVerify.
type VerifyError struct {
	// Plugins lists the plugins the failure is attributed to.
	Plugins []string
	// Reason says what went wrong.
	Reason string
	// Output is the end of what the binary printed.
	Output string
}

// Error describes what went wrong and what to do.
func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString("the new binary failed verification")
	if len(e.Plugins) > 0 {
		fmt.Fprintf(&b, " (plugin %s)", strings.Join(e.Plugins, ", "))
	}
	b.WriteString(": " + e.Reason + "; the installed binary is unchanged")
	if out := strings.TrimSpace(e.Output); out != "" {
		b.WriteString(":\n" + out)
	}
	return b.String()
}

// Is reports whether target is ErrVerify.
func (e *VerifyError) Is(target error) bool { return target == ErrVerify }

// SideFileError reports a missing, unreadable or mismatched file beside
// the executable that holds its bundles; it matches ErrSideFile.
type SideFileError = exe.SideFileError

// TargetError reports an executable that cannot be replaced, or a backup
// that cannot be put back in its place. It matches ErrNotWritable when the
// cause is a permission problem, and whatever its cause matches
// otherwise.
type TargetError struct {
	// Path is the executable.
	Path string
	// Backup is, for an error about a backup, the backup of Path.
	Backup string
	// Err is the cause.
	Err error
}

// Error describes what went wrong and what to do.
func (e *TargetError) Error() string {
	msg := fmt.Sprintf("cannot replace %s: %v", e.Path, e.Err)
	if e.Backup != "" {
		msg = fmt.Sprintf("cannot put the backup %s back in place of %s: %v", e.Backup, e.Path, e.Err)
	}
	if e.Is(ErrNotWritable) {
		msg += " (rerun as a user who may write to it and its directory, or move the binary to a directory you own)"
	}
	return msg
}

// Unwrap returns the cause.
func (e *TargetError) Unwrap() error { return e.Err }

// Is reports whether target is ErrNotWritable and the cause is a
// permission problem.
func (e *TargetError) Is(target error) bool {
	return target == ErrNotWritable && (errors.Is(e.Err, fs.ErrPermission) || errors.Is(e.Err, syscall.EROFS))
}

// RollbackError reports a swap that failed after the executable was moved
// and whose undoing failed too: the executable may be missing, and the
// previous binary is at Backup. It is the one error after which a person
// must act: move Backup back to Target.
type RollbackError struct {
	Target, Backup string
	// Err is why the swap failed, and RestoreErr why putting the previous
	// binary back failed.
	Err, RestoreErr error
}

// Error describes what went wrong and what to do.
func (e *RollbackError) Error() string {
	return fmt.Sprintf("replacing %s failed (%v) and putting the previous binary back failed too (%v): the previous binary is at %s; move it back to %s",
		e.Target, e.Err, e.RestoreErr, e.Backup, e.Target)
}

// Unwrap returns both causes.
func (e *RollbackError) Unwrap() []error { return []error{e.Err, e.RestoreErr} }

// canceledError is what an install returns when its context ends. It
// matches ErrCanceled and the context's error.
type canceledError struct {
	stage Stage
	err   error
}

// Error describes what went wrong and what to do.
func (e *canceledError) Error() string {
	return fmt.Sprintf("install canceled during %s (%v); nothing was changed", e.stage, e.err)
}

// Is reports whether target is the sentinel the error matches.
func (e *canceledError) Is(target error) bool { return target == ErrCanceled }

// Unwrap returns the cause.
func (e *canceledError) Unwrap() error { return e.err }

// canceled turns a context's error into a *canceledError for stage, and
// passes other errors through.
func canceled(ctx context.Context, stage Stage, err error) error {
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return &canceledError{stage: stage, err: ctx.Err()}
	}
	return err
}

// spaceError reports a file system without the room an install needs. It
// matches ErrNoSpace.
type spaceError struct {
	dir, what  string
	need, free uint64
	err        error  // the write that failed, when the disk filled up during the install
	cause      string // what to say of err, when err says too much (the go command's whole output)
	freeKnown  bool   // free was read after err
	cache      bool   // dir is the cache's, which SelfCompile.CacheDir can move
}

// newSpaceError reports the disk of dir, which filled up during the
// install: err is the failure, cause, if not "", the line of it that says
// so, and cache whether dir is the cache's.
func newSpaceError(dir string, err error, cause string, cache bool) *spaceError {
	e := &spaceError{dir: dir, err: err, cause: cause, cache: cache}
	if free, ferr := fsutil.DiskFree(dir); ferr == nil {
		e.free, e.freeKnown = free, true
	}
	return e
}

// Error describes what went wrong and what to do.
func (e *spaceError) Error() string {
	if e.err != nil {
		free := ""
		if e.freeKnown {
			free = fmt.Sprintf(", %d MB free now", e.free>>20)
		}
		move := ""
		if e.cache {
			move = ", or move the cache to a larger disk (" + cacheMoveHint + "),"
		}
		return fmt.Sprintf("the disk of %s is full (%s%s): free some space on it%s and try again; the installed binary is unchanged",
			e.dir, cmp.Or(e.cause, e.err.Error()), free, move)
	}
	return fmt.Sprintf("not enough disk space in %s for %s: %d MB needed, %d MB free (free some space, or move the cache to a larger disk: %s)",
		e.dir, e.what, e.need>>20, e.free>>20, cacheMoveHint)
}

// cacheMoveHint says how the cache moves: for the user, by the variable
// that os.UserCacheDir reads; for the program's vendor, by CacheDir.
const cacheMoveHint = "a user sets XDG_CACHE_HOME on Linux, LocalAppData on Windows, HOME on macOS; the program's vendor sets SelfCompile.CacheDir"

// Is reports whether target is the sentinel the error matches.
func (e *spaceError) Is(target error) bool { return target == ErrNoSpace }

// Unwrap returns the cause.
func (e *spaceError) Unwrap() error { return e.err }

// planError reports a plan that KeepHostDeps refuses. It matches
// ErrHostDepsChanged.
type planError struct{ plan *Plan }

// Error describes what went wrong and what to do.
func (e *planError) Error() string {
	var b strings.Builder
	b.WriteString("refused: the plugins would change these dependencies of the host, and KeepHostDeps is set; nothing was built:")
	for _, h := range e.plan.HostDeps {
		fmt.Fprintf(&b, "\n  %s %s => %s", h.Path, orNone(h.Old), orNone(h.New))
	}
	return b.String()
}

// Is reports whether target is the sentinel the error matches.
func (e *planError) Is(target error) bool { return target == ErrHostDepsChanged }

// The package's one rule for errors, as golang.org/x/mod has it: an error
// builds its own message from what it holds (a typed error from its
// fields, a wrapped one with %w), without the package's name; each
// exported function and method wraps the error it returns once, at the
// API boundary (apiErr), which writes "selfcompile: " before the message.
// No code edits or trims a message, and no exported function returns
// another's error wrapped again: they share unexported bodies.

// apiError is an error that an exported function or method returned. It
// matches what err matches.
type apiError struct{ err error }

// Error is the library's name and err's message.
func (e *apiError) Error() string { return "selfcompile: " + e.err.Error() }

// Unwrap returns err.
func (e *apiError) Unwrap() error { return e.err }

// apiErr wraps the error that an exported function or method returns in
// an *apiError; nil stays nil.
func apiErr(err error) error {
	if err == nil {
		return nil
	}
	return &apiError{err}
}

// StaleBundleError reports an executable that its bundle does not
// rebuild: what differs between the two. It matches ErrStaleBundle.
type StaleBundleError struct {
	// Path is the executable.
	Path string
	// Differences says what differs, one thing each: the Go version, a
	// module, a build setting, the symbol table, or the code.
	Differences []string
}

// Error says what differs, that the executable is unchanged, and what the
// user and the vendor can do.
func (e *StaleBundleError) Error() string {
	return fmt.Sprintf("%v: %s is not what the bundle it carries builds, so installing a plugin would replace it with another program: %s. The binary is unchanged. "+
		"Ask its vendor for a release whose bundle matches it; for the vendor: run go generate after the last change to the source, build the release with -trimpath and the flags the rebuild is given, and check it with go-selfcompile verify",
		ErrStaleBundle, e.Path, strings.Join(e.Differences, "; "))
}

// Is reports whether target is ErrStaleBundle.
func (e *StaleBundleError) Is(target error) bool { return target == ErrStaleBundle }
