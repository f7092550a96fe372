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
//
// # Where things are
//
// The SelfCompile type, Apply, Plan and the Compile calls are in this file;
// the rest of the API is beside the stage it uses: Plugins and Installed
// in stub.go, CheckBundle in check.go, Rollback in rollback.go, the cache
// calls in cache.go, Catalog and Check in policy.go, Missing and
// PlanRestore in missing.go, BuildGoPlugin in goplugin.go, and the process
// plugins' calls in process.go. An install runs these stages, each in a
// file of its name, in this order:
//
//	install.go      a run (its lock, cache, workdir and what it undoes at its
//	                end), begin, and the compositions of the stages that
//	                Apply, Plan and TrimCache are
//	change.go       the change set, the plugin set it gives, and the plan
//	restore.go      the bundles laid out (a layout): toolchain and source
//	                from the cache
//	resolve.go      the plugins resolved and the plan made (a resolution);
//	                policy.go applies the vendor's catalog; local.go copies
//	                plugins from local folders, pluginbundle.go reads and
//	                writes the bundle that carries what plugins need
//	stub.go         the stub written into main, which calls hook.Register
//	check.go        before a first change, the check that the bundle rebuilds
//	                the executable (internal/samebin compares the two)
//	build.go        go build (the built binary), with the settings the
//	                binary records (goenv.go) and its identity
//	                (internal/identity)
//	probe.go        the new binary run and checked before it is trusted
//	replace.go      the swap, and the backups kept for rollback.go
//
// and beside them: process.go (process plugins: programs of their own,
// built in their own module graph, run by module processplugin), plugin.go
// (plugin specs and PluginInfo), goerrors.go (what the go command's errors
// mean), cache.go (the cache directory and its trim), missing.go (the
// plugins an upgrade of the program dropped: Missing, PlanRestore),
// progress.go (Event) and errors.go (the sentinels and typed errors; the
// exported calls write "selfcompile: " before a message, once, and no
// error writes it itself). Each stage takes what it needs and returns what
// it made; the calls compose the stages they need and choose, by the
// stages' arguments, what differs (whether the run replaces the
// executable). The OS file layer is in internal
// packages: swap (staging, metadata, swap, backups), lockfile (locks and
// stale directories), exe (reading an executable), cachetree (trees
// restored into the cache); the bundle format is internal/bundle and the
// generator internal/generate.
package selfcompile

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/lockfile"
	"github.com/shazow/go-selfcompile/internal/proc"
)

// SelfCompile rebuilds a program with plugins and replaces its executable.
// The zero value is ready to use in a program whose main package was
// prepared with go-selfcompile, and leaves nothing behind but its caches.
type SelfCompile struct {
	// HostVersion is the version of the host module, as in "v1.2.0", for
	// a program whose build records no module version (go build in a
	// checkout) and whose generator was not given one (--host-version):
	// the catalog's host constraints are checked against it, and with
	// --skip-source installs fetch the host's source at that version.
	// Otherwise it is not needed.
	HostVersion string

	// Target is the executable to replace. It defaults to the running
	// executable, as resolved (through symlinks) when the program
	// started; for a backup that an install kept, run as itself, it is the
	// executable the backup belongs to. The install builds from the
	// bundles of the file on disk, which need not be the running program.
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
	// would move the version of any module of the host's own build list
	// from the one the installed binary has, plugin modules among them
	// (Plan.HostDeps lists them); Plan refuses it as Apply would.
	KeepHostDeps bool

	// Backups is how many previous binaries are kept beside the
	// executable for Rollback; 0 means 1, a negative number none.
	Backups int

	// ProbeTimeout bounds the verification run of a new binary; it
	// defaults to 30 seconds.
	ProbeTimeout time.Duration

	// Logger receives the messages of an install (Initializing workdir,
	// Compiling, Verifying the new binary, Replacing binary, Cleaning up),
	// the estimate of a cold build, the build's progress every few
	// seconds, and warnings. It defaults to a logger writing to stderr
	// with the prefix "[selfcompile] "; log.New(io.Discard, "", 0)
	// silences it.
	Logger *log.Logger

	// Verbose adds to the messages of an install the paths of its private
	// directories: its workdir under CacheDir and the new binary's
	// directory beside the executable, which are removed when it ends.
	// plugincmd sets it when GO_SELFCOMPILE_VERBOSE=1.
	Verbose bool

	// Progress, if set, receives the start and end of every stage, the
	// bytes restored, and the packages the build has compiled.
	Progress func(Event)

	// Vendor is the vendor's catalog and policy: what users may install
	// (see package catalog). It defaults to what the generator was given
	// (--catalog-key and the flags beside it); nil there too lets users
	// install anything, and gives plugins no names.
	Vendor *catalog.Config

	// AllowUnlisted lets a change install plugins that the catalog does
	// not list, where the vendor's policy lets a user ask for that
	// (plugin add --allow-unlisted); where it does not, any change is
	// refused with ErrNotAllowed.
	AllowUnlisted bool

	// Sign, if set, runs on the new binary before its probe and the swap,
	// for a vendor whose binaries carry a signature that a rebuild loses
	// (for example running "codesign --force -s IDENTITY" on macOS, or an
	// enterprise signing tool on Windows). An error leaves the executable
	// unchanged and matches ErrSign.
	Sign func(ctx context.Context, path string) error

	// ProcessDir is the directory of the process plugins' executables
	// and their manifest (InstallProcess). It defaults to NAME.plugins
	// beside the executable (Target), NAME its name without ".exe" (see
	// DefaultProcessDir).
	ProcessDir string

	plugins []string
}

// defaultProbeTimeout bounds a verification run when ProbeTimeout is 0.
const defaultProbeTimeout = 30 * time.Second

// Plugin adds a plugin to install with the next Compile: an import path,
// "path@version", or a local directory (a path starting with "./", "../"
// or "/"). Plugins already in the binary are kept. Plugin and Compile are
// the library's original API, kept as they were; Apply does more.
func (c *SelfCompile) Plugin(spec string) {
	c.plugins = append(c.plugins, spec)
}

// Compile installs the plugins added with Plugin, keeping those already
// installed: Apply with them as Add and a background context.
func (c *SelfCompile) Compile() error {
	return c.CompileContext(context.Background())
}

// CompileContext is Compile with a context: when ctx ends, the install
// stops and returns an error that matches ErrCanceled, and the executable
// is unchanged.
func (c *SelfCompile) CompileContext(ctx context.Context) error {
	_, err := c.Apply(ctx, Change{Add: c.plugins})
	if err == nil {
		c.plugins = nil
	}
	return err
}

// Apply changes the executable's plugin set in one rebuild: it adds,
// removes and upgrades plugins, keeping the others (unless ch.Exactly),
// and returns the plan it carried out. A change that leaves the plugin set as it is builds
// nothing and changes nothing. On any error the executable is left as it
// was.
//
// The steps, in order (see install.go): lock the executable, check that it
// may be replaced, and read the bundles it carries; restore them, the
// toolchain from the cache when it is there; resolve the plugins and make
// the plan, refused before building if KeepHostDeps forbids it; write the
// stub; go build; run the new binary's probe; swap it in, keeping the old
// one for Rollback.
func (c *SelfCompile) Apply(ctx context.Context, ch Change) (*Plan, error) {
	plan, err := c.apply(ctx, ch)
	return plan, apiErr(err)
}

// Plan computes what Apply would do, without building or touching the
// executable: a dry run, which fails as Apply would before building.
func (c *SelfCompile) Plan(ctx context.Context, ch Change) (*Plan, error) {
	plan, err := c.plan(ctx, ch)
	return plan, apiErr(err)
}

// Restart makes the new binary take over after an install: on Unix it
// executes Target (by default the running executable's path, which now
// names the new binary) in place of this process, with the same arguments
// and environment, so the process keeps its ID and a service manager such
// as systemd sees the same service running the new binary; Windows, which
// cannot do that, starts it with the same arguments and standard streams
// and exits this process. It returns only on failure.
func (c *SelfCompile) Restart() error {
	target, err := c.target()
	if err != nil {
		return apiErr(err)
	}
	return apiErr(proc.Exec(target))
}

// Cleanup removes what killed installs left in the cache's work
// directory. Installs clean up after themselves, and the next one removes
// what a killed one left, so a program needs it only to free that space
// at once.
func (c *SelfCompile) Cleanup() error {
	root, err := c.cacheRoot()
	if err != nil {
		return apiErr(err)
	}
	lockfile.RemoveStale(workRoot(root), workPrefix)
	return nil
}

func (c *SelfCompile) logf(format string, args ...any) {
	l := c.Logger
	if l == nil {
		l = defaultLogger
	}
	l.Printf(format, args...)
}

// logAt logs what an install does in one of its private directories,
// naming the directory only when Verbose asks: it is removed at the end,
// and its long path would fill a terminal's lines.
func (c *SelfCompile) logAt(what, dir string) {
	if c.Verbose {
		c.logf("%s: %s", what, dir)
		return
	}
	c.logf("%s", what)
}

var defaultLogger = log.New(os.Stderr, "[selfcompile] ", log.LstdFlags)
