package selfcompile

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Every error the library returns for one of these
// conditions matches the sentinel with errors.Is; the typed errors below
// carry the details and can be matched with errors.As.
var (
	// ErrNoBundle: the binary was built without a bundle (go generate was
	// not run before go build).
	ErrNoBundle = errors.New("selfcompile: this binary carries no bundle")
	// ErrBundleCorrupt: the bundle does not match its manifest, is
	// truncated, or holds entries that are not allowed.
	ErrBundleCorrupt = errors.New("selfcompile: bundle is corrupt")
	// ErrBundleFormat: the bundle was written by an incompatible version.
	ErrBundleFormat = errors.New("selfcompile: unsupported bundle format")
	// ErrPlatform: the bundled toolchain does not run on this platform.
	ErrPlatform = errors.New("selfcompile: bundle is for another platform")
	// ErrInvalidPlugin: a plugin spec is malformed, cannot be found, or
	// is not a plugin package.
	ErrInvalidPlugin = errors.New("selfcompile: invalid plugin")
	// ErrNotWritable: the executable cannot be replaced by this user.
	ErrNotWritable = errors.New("selfcompile: executable is not writable")
	// ErrBuild: the go command failed.
	ErrBuild = errors.New("selfcompile: build failed")
	// ErrVerify: the new binary did not pass its verification run.
	ErrVerify = errors.New("selfcompile: new binary failed verification")
	// ErrLocked: another install holds the lock and the caller asked not
	// to wait.
	ErrLocked = errors.New("selfcompile: another install is in progress")
	// ErrNoSource: the bundle holds no host source and its version is
	// unknown.
	ErrNoSource = errors.New("selfcompile: host source is not available")
	// ErrNoSpace: a disk lacks the room an install needs.
	ErrNoSpace = errors.New("selfcompile: not enough disk space")
	// ErrHostDepsChanged: the plugins would change the version of one of
	// the host's own dependencies, and SelfCompile.KeepHostDeps refuses it.
	ErrHostDepsChanged = errors.New("selfcompile: plugins would change host dependencies")
	// ErrNoBackup: Rollback found no previous binary.
	ErrNoBackup = errors.New("selfcompile: no previous binary to roll back to")
)

// BundleError reports a bundle that cannot be trusted. It matches
// ErrBundleCorrupt.
type BundleError struct {
	Reason string
}

// Error describes what went wrong and what to do.
func (e *BundleError) Error() string {
	return "selfcompile: bundle is corrupt: " + e.Reason + " (rebuild the binary with go generate and go build)"
}

// Is reports whether target is ErrBundleCorrupt.
func (e *BundleError) Is(target error) bool { return target == ErrBundleCorrupt }

// PluginError reports a plugin spec that cannot be installed. It matches
// ErrInvalidPlugin.
type PluginError struct {
	// Spec is the plugin as the user gave it.
	Spec string
	// Reason says what is wrong with it.
	Reason string
}

// Error describes what went wrong and what to do.
func (e *PluginError) Error() string {
	return fmt.Sprintf("selfcompile: plugin %q: %s", e.Spec, e.Reason)
}

// Is reports whether target is ErrInvalidPlugin.
func (e *PluginError) Is(target error) bool { return target == ErrInvalidPlugin }

// BuildError reports a failed go command. It matches ErrBuild.
type BuildError struct {
	// Plugins lists the plugins the failure is attributed to: those whose
	// packages the compiler output names, or every new plugin when it
	// names none.
	Plugins []string
	// Step is the go command that failed, as in "go build".
	Step string
	// Output is what the go command printed.
	Output string
}

// Error describes what went wrong and what to do.
func (e *BuildError) Error() string {
	var b strings.Builder
	b.WriteString("selfcompile: ")
	b.WriteString(e.Step)
	b.WriteString(" failed")
	if len(e.Plugins) > 0 {
		fmt.Fprintf(&b, " for plugin %s", strings.Join(e.Plugins, ", "))
	}
	b.WriteString("; the installed binary is unchanged")
	if out := strings.TrimSpace(e.Output); out != "" {
		b.WriteString(":\n")
		b.WriteString(out)
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
	// Output is what the binary printed to stderr.
	Output string
}

// Error describes what went wrong and what to do.
func (e *VerifyError) Error() string {
	var b strings.Builder
	b.WriteString("selfcompile: the new binary failed verification")
	if len(e.Plugins) > 0 {
		fmt.Fprintf(&b, " (plugin %s)", strings.Join(e.Plugins, ", "))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	b.WriteString("; the installed binary is unchanged")
	if out := strings.TrimSpace(e.Output); out != "" {
		b.WriteString(":\n")
		b.WriteString(out)
	}
	return b.String()
}

// Is reports whether target is ErrVerify.
func (e *VerifyError) Is(target error) bool { return target == ErrVerify }

// TargetError reports an executable that cannot be replaced. It matches
// ErrNotWritable when the cause is a permission problem.
type TargetError struct {
	// Path is the executable.
	Path string
	// Err is the underlying error.
	Err error
}

// Error describes what went wrong and what to do.
func (e *TargetError) Error() string {
	return fmt.Sprintf("selfcompile: cannot replace %s: %v (rerun as a user who may write to its directory, or move the binary to a directory you own)", e.Path, e.Err)
}

// Unwrap returns the underlying error.
func (e *TargetError) Unwrap() error { return e.Err }

// Is reports whether target is ErrNotWritable.
func (e *TargetError) Is(target error) bool { return target == ErrNotWritable }

// SpaceError reports a file system without room for an install, found
// before any work. It matches ErrNoSpace.
type SpaceError struct {
	// Dir is the directory that needs the space; What says what for.
	Dir, What string
	// Need and Free are in bytes.
	Need, Free uint64
}

// Error describes what went wrong and what to do.
func (e *SpaceError) Error() string {
	return fmt.Sprintf("selfcompile: not enough disk space in %s for %s: %d MB needed, %d MB free (free some space, or point SelfCompile.CacheDir or Root at a larger disk)",
		e.Dir, e.What, e.Need>>20, e.Free>>20)
}

// Is reports whether target is ErrNoSpace.
func (e *SpaceError) Is(target error) bool { return target == ErrNoSpace }
