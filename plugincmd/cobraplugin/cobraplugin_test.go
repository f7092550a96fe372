package cobraplugin

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/plugincmd"
)

// execute runs a cobra program mytool, with the plugin command, on args,
// and returns what it printed and its exit code.
func execute(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	root := &cobra.Command{Use: "mytool", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(Command(selfcompile.SelfCompile{CacheDir: t.TempDir()}))
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), plugincmd.ExitCode(err)
}

// The shell completes "mytool plugin a<TAB>" to add, and the flags of a
// subcommand.
func TestCompleteSubcommandsAndFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
		not  string
	}{
		{[]string{"plugin", "a"}, []string{"add"}, "remove"},
		{[]string{"plugin", ""}, []string{"add", "remove", "upgrade", "list", "rollback", "sync"}, ""},
		{[]string{"plugin", "add", "--d"}, []string{"--dry-run"}, "--trim"},
		{[]string{"plugin", "cache", "--"}, []string{"--trim", "--purge", "--json"}, "--dry-run"},
	} {
		out, errOut, code := execute(t, append([]string{cobra.ShellCompRequestCmd}, c.args...)...)
		if code != 0 {
			t.Errorf("%q: exit code %d: %s", c.args, code, errOut)
		}
		var words []string // the words offered, without their descriptions
		for _, line := range strings.Split(out, "\n") {
			word, _, _ := strings.Cut(line, "\t")
			words = append(words, word)
		}
		for _, w := range c.want {
			if !slices.Contains(words, w) {
				t.Errorf("%q completes to %q, which lacks %s", c.args, out, w)
			}
		}
		if c.not != "" && slices.Contains(words, c.not) {
			t.Errorf("%q completes to %q, which has %s", c.args, out, c.not)
		}
	}
}

// "mytool plugin add --help", "mytool help plugin" and "mytool plugin
// --help" print the usage, with the subcommands and flags, and exit 0.
func TestHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"plugin", "add", "--help"}, []string{"mytool plugin add SPEC...", "--dry-run", "--allow-unlisted"}},
		{[]string{"help", "plugin", "remove"}, []string{"mytool plugin remove IMPORTPATH...", "--restart"}},
		{[]string{"plugin", "--help"}, []string{"add", "remove", "upgrade", "rollback", "cache"}},
		{[]string{"help", "plugin"}, []string{"Available Commands", "add", "sync"}},
	} {
		out, errOut, code := execute(t, c.args...)
		if code != 0 {
			t.Errorf("%q: exit code %d: %s", c.args, code, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: the help lacks %q:\n%s", c.args, w, out)
			}
		}
	}
}

// A wrong command line exits with plugincmd's usage code, 2, whether cobra
// or plugincmd finds it wrong.
func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"plugin", "add", "--no-such-flag", "x"},
		{"plugin", "add"},
		{"plugin", "list", "extra"},
		{"plugin", "frobnicate"},
		{"plugin"},
	} {
		if _, errOut, code := execute(t, args...); code != plugincmd.ExitUsage || !strings.Contains(errOut, "mytool plugin") {
			t.Errorf("%q: exit code %d, %q; want a usage error", args, code, errOut)
		}
	}
}

// The flags cobra parsed reach plugincmd: list --json prints JSON, an
// empty list for a program without plugins.
func TestFlagsPassed(t *testing.T) {
	if out, errOut, code := execute(t, "plugin", "list", "--json"); code != 0 || out != "[]\n" {
		t.Errorf("plugin list --json: exit code %d, %q %s", code, out, errOut)
	}
	_, errOut, code := execute(t, "plugin", "cache", "--trim", "--purge")
	if code != plugincmd.ExitUsage || !strings.Contains(errOut, "--trim and --purge go alone") {
		t.Errorf("plugin cache --trim --purge: exit code %d, %s", code, errOut)
	}
}

// "plugin --plugin SPEC", the spelling of the first release, is plugin add.
func TestOriginalSpelling(t *testing.T) {
	out, errOut, _ := execute(t, "plugin", "--plugin", "example.com/x")
	if !strings.HasPrefix(out, "Installing plugin: example.com/x\n") {
		t.Errorf("plugin --plugin example.com/x: %q %s", out, errOut)
	}
}

// The program's own PersistentPreRun (loading its configuration, say) runs
// before the plugin commands too: the plugin command defines none, which
// would take its place.
func TestRootPreRunRuns(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	ran := false
	root := &cobra.Command{Use: "mytool", SilenceUsage: true, SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) { ran = true }}
	root.AddCommand(Command(selfcompile.SelfCompile{CacheDir: t.TempDir()}))
	root.SetOut(new(bytes.Buffer))
	root.SetArgs([]string{"plugin", "list"})
	if err := root.Execute(); err != nil || !ran {
		t.Errorf("mytool plugin list: %v; the root's PersistentPreRun ran: %v", err, ran)
	}
}
