package plugincmd

import (
	"bytes"
	"context"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
)

// runCmd runs the command of the program mytool with args, and returns
// what it printed and its exit code.
func runCmd(t *testing.T, sc selfcompile.SelfCompile, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := &Command{Name: "mytool", SelfCompile: sc, Stdout: &out, Stderr: &errOut}
	err := cmd.Run(context.Background(), args)
	if err != nil {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), ExitCode(err)
}

// "plugin --help", "plugin -h", "plugin help [CMD]" and "plugin CMD
// --help" print the usage to standard output and exit 0: the command's
// lists every subcommand, a subcommand's names its arguments and flags.
func TestHelp(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"usage: mytool plugin COMMAND", "add SPEC...", "remove IMPORTPATH...", "cache ", "mytool plugin help COMMAND"}},
		{[]string{"-h"}, []string{"usage: mytool plugin COMMAND", "rollback "}},
		{[]string{"help"}, []string{"usage: mytool plugin COMMAND", "sync FILE"}},
		{[]string{"help", "add"}, []string{"usage: mytool plugin add SPEC... [FLAGS]", "--dry-run", "--allow-unlisted", "--help"}},
		{[]string{"add", "--help"}, []string{"usage: mytool plugin add SPEC... [FLAGS]", "--keep-host-deps"}},
		{[]string{"remove", "-h"}, []string{"usage: mytool plugin remove IMPORTPATH... [FLAGS]", "--dry-run"}},
		{[]string{"list", "--help"}, []string{"usage: mytool plugin list [FLAGS]", "--lock"}},
		{[]string{"add", "example.com/x", "--help"}, []string{"usage: mytool plugin add SPEC..."}},
	} {
		out, errOut, code := runCmd(t, selfcompile.SelfCompile{}, c.args...)
		if code != ExitOK || errOut != "" {
			t.Errorf("%q: exit code %d, stderr %q", c.args, code, errOut)
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%q: the usage does not show %q:\n%s", c.args, w, out)
			}
		}
	}
	for _, args := range [][]string{{"help", "frobnicate"}, {"help", "add", "remove"}} {
		if out, errOut, code := runCmd(t, selfcompile.SelfCompile{}, args...); code != ExitUsage || out != "" || !strings.Contains(errOut, "usage: mytool plugin") {
			t.Errorf("%q: exit code %d, stdout %q, stderr %q; want a usage error", args, code, out, errOut)
		}
	}
}

// Every subcommand has a line in the command's help.
func TestHelpSummaries(t *testing.T) {
	for _, s := range Subcommands() {
		if s.Short == "" {
			t.Errorf("plugin %s has no summary for help: add it to summaries", s.Name)
		}
	}
}

// A dry run of add says what it would install, not that it installs.
func TestDryRunWords(t *testing.T) {
	out, _, _ := runCmd(t, selfcompile.SelfCompile{}, "add", "--dry-run", "example.com/x")
	if !strings.Contains(out, "Dry run: would install plugin: example.com/x") || strings.Contains(out, "Installing") {
		t.Errorf("add --dry-run printed %q", out)
	}
}

// plugin list with no plugins says so, and the machine-readable lists
// stay so: an empty JSON list, a lock file of no plugins.
func TestListEmpty(t *testing.T) {
	if out, _, code := runCmd(t, selfcompile.SelfCompile{}, "list"); code != ExitOK || out != "No plugins installed.\n" {
		t.Errorf("plugin list: exit code %d, %q", code, out)
	}
	if out, _, _ := runCmd(t, selfcompile.SelfCompile{}, "list", "--json"); out != "[]\n" {
		t.Errorf("plugin list --json: %q", out)
	}
	if out, _, _ := runCmd(t, selfcompile.SelfCompile{}, "list", "--lock"); strings.Contains(out, "No plugins") {
		t.Errorf("plugin list --lock: %q", out)
	}
}

// plugin search with no match says so.
func TestSearchNoMatch(t *testing.T) {
	for _, c := range []struct {
		word []string
		want string
	}{
		{[]string{"zebra"}, "No plugin of the catalog (sequence 7) matches \"zebra\".\n"},
		{nil, "The catalog (sequence 7) lists no plugins.\n"},
	} {
		var out bytes.Buffer
		writeSearch(&out, nil, "", 7, c.word...)
		if out.String() != c.want {
			t.Errorf("plugin search %q found nothing and printed %q, want %q", c.word, out.String(), c.want)
		}
	}
}
