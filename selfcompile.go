// Package selfcompile lets a Go program install plugins by recompiling
// itself with a Go toolchain it carries, then replacing its own executable.
//
// A plugin is an ordinary Go package that registers itself in init. The
// host program runs the go-selfcompile generator from a go:generate line in
// its main package; the generator writes a bundle package (the Go
// toolchain, the host's source and its dependency modules, compressed) and
// a stub that embeds it. At run time, SelfCompile reads the bundles of the
// executable on disk, restores them, writes a stub that imports the
// plugins, builds the program, checks that the new binary starts with every
// plugin registered, and swaps it in for the executable. The user needs no
// Go installation, and no network for plugins from a local directory.
//
// For a complete plugin command (add, remove, upgrade, list, rollback,
// cache), see the plugincmd package.
package selfcompile

import (
	"context"
	"log"
	"os"
	"time"
)

// SelfCompile rebuilds a program with plugins and replaces its executable.
// The zero value is ready to use in a program whose main package was
// prepared with go-selfcompile, and leaves nothing behind but its caches.
type SelfCompile struct {
	// Install is the import path of the main package, with "@version",
	// for a program whose bundle was generated with --skip-source and
	// whose build records no module version (go build in a checkout).
	// Otherwise it is not needed: the bundle knows the main package.
	Install string

	// Target is the executable to replace. It defaults to the running
	// executable, as resolved (through symlinks) when the program
	// started. The install builds from the bundles of the file on disk,
	// which need not be the running program.
	Target string

	// CacheDir keeps restored toolchains, the build and module caches,
	// and the work directories of installs. It defaults to go-selfcompile
	// under os.UserCacheDir(). It must belong to the user and be writable
	// by no one else.
	CacheDir string

	// LDFlags are the -ldflags to build with. Go does not record -ldflags
	// in a -trimpath binary (golang/go#63432), so a host that sets values
	// with -X passes them here, for example "-X main.version=" + version.
	LDFlags string

	// NoWait makes an install fail with ErrLocked instead of waiting when
	// another install of the same executable is running.
	NoWait bool

	// KeepHostDeps makes Apply refuse, before building, a change that
	// would move the version of any module of the host's own build list,
	// plugin modules among them.
	KeepHostDeps bool

	// Backups is how many previous binaries are kept beside the
	// executable for Rollback; 0 means 1, a negative number none.
	Backups int

	// ProbeTimeout bounds the verification run of a new binary; it
	// defaults to 30 seconds.
	ProbeTimeout time.Duration

	// Logger receives the messages of the 2015 transcript (Initializing
	// workdir, Compiling workdir, Verifying, Replacing binary, Cleaning
	// up), the build's progress every few seconds, and warnings. It
	// defaults to a logger writing to stderr with the prefix
	// "[selfcompile] "; log.New(io.Discard, "", 0) silences it.
	Logger *log.Logger

	// Progress, if set, receives the start and end of every stage
	// (restore, resolve, build, verify, replace), restored bytes, and the
	// packages the build has compiled.
	Progress func(Event)

	plugins []string
}

// defaultProbeTimeout bounds a verification run when ProbeTimeout is 0.
const defaultProbeTimeout = 30 * time.Second

// Plugin adds a plugin to install with the next Compile: an import path,
// "path@version", or a local directory (a path starting with "./", "../"
// or "/"). Plugins already in the binary are kept.
func (c *SelfCompile) Plugin(spec string) {
	c.plugins = append(c.plugins, spec)
}

// Compile installs the plugins added with Plugin, keeping those already
// installed. It is the 2015 API: Apply with one Add per plugin and a
// background context.
func (c *SelfCompile) Compile() error {
	return c.CompileContext(context.Background())
}

// CompileContext is Compile with a context: when ctx ends, the install
// stops and returns an error that matches ErrCanceled, and the executable
// is unchanged.
func (c *SelfCompile) CompileContext(ctx context.Context) error {
	changes := make([]Change, len(c.plugins))
	for i, p := range c.plugins {
		changes[i] = Change{Op: Add, Spec: p}
	}
	_, err := c.Apply(ctx, changes...)
	if err == nil {
		c.plugins = nil
	}
	return err
}

// Apply changes the executable's plugin set in one rebuild: it adds,
// removes and upgrades plugins, keeping the others, and returns the plan it
// carried out. On any error the executable is left as it was.
//
// The steps, each in a file of its own name: lock the executable, check
// that it may be replaced, and read the bundles it carries (lock.go,
// target.go); restore them, the toolchain from the cache when it is there
// (restore.go); resolve the plugins and make the plan, refused before
// building if KeepHostDeps forbids it (resolve.go); write the stub
// (stub.go); go build (build.go); run the new binary's probe (probe.go);
// swap it in, keeping the old one for Rollback (replace.go).
func (c *SelfCompile) Apply(ctx context.Context, changes ...Change) (plan *Plan, err error) {
	return c.run(ctx, changes, true)
}

// Plan computes what Apply would do, without building or touching the
// executable: a dry run.
func (c *SelfCompile) Plan(ctx context.Context, changes ...Change) (*Plan, error) {
	return c.run(ctx, changes, false)
}

func (c *SelfCompile) run(ctx context.Context, changes []Change, replace bool) (plan *Plan, err error) {
	cs, err := parseChanges(changes)
	if err != nil {
		return nil, err
	}
	in, err := c.begin(ctx, replace)
	if err != nil {
		return nil, canceled(ctx, "start", err)
	}
	defer in.end()
	defer func() { err = canceled(ctx, in.current, err) }()
	if err := in.restore(); err != nil {
		return nil, err
	}
	if plan, err = in.resolve(cs); err != nil || !replace {
		return plan, err
	}
	if c.KeepHostDeps && len(plan.HostDeps) > 0 {
		return plan, &planError{plan}
	}
	if err := in.build(); err != nil {
		return plan, err
	}
	if err := in.verify(); err != nil {
		return plan, err
	}
	return plan, in.replace()
}

// Cleanup removes what killed installs left in the cache's work
// directory. Installs clean up after themselves, and the next one removes
// what a killed one left, so a program needs it only to free that space
// at once. It is kept from the 2015 API.
func (c *SelfCompile) Cleanup() error {
	root, err := c.cacheRoot()
	if err != nil {
		return err
	}
	removeStale(workRoot(root), workPrefix)
	return nil
}

func (c *SelfCompile) logf(format string, args ...any) {
	l := c.Logger
	if l == nil {
		l = defaultLogger
	}
	l.Printf(format, args...)
}

var defaultLogger = log.New(os.Stderr, "[selfcompile] ", log.LstdFlags)
