package selfcompile_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A first install on a machine (an empty cache) says what it costs before
// it builds: the packages it compiles, a time from the default (no build
// to go by yet) and the disk it needs, at least what it used; its progress
// counts down to those packages. The cache records the build's time: once
// the go command has trimmed the build cache (five days later), the next
// estimate comes from that record. A repeat install says nothing of cost.
func TestFirstInstallEstimate(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	cache := tempDir(t)
	root := filepath.Join(cache, "go-selfcompile")
	bin := installedCopy(t)
	env := []string{"XDG_CACHE_HOME=" + cache}
	_, errOut, err := run(t, bin, env, "plugin", "add", aplugin)
	if err != nil {
		t.Fatalf("first install: %v\n%s", err, errOut)
	}
	first := regexp.MustCompile(`First install: compiles about (\d+) packages; about \d+ (?:s|min) \(a conservative default: no earlier build on this machine to go by\); needs about (\d+) MB of disk in ` + regexp.QuoteMeta(root) + "\n")
	m := first.FindStringSubmatchIndex(errOut)
	if m == nil || m[0] > strings.Index(errOut, compiling) {
		t.Fatalf("the first install does not say what it costs before it compiles:\n%s", errOut)
	}
	packages, _ := strconv.Atoi(errOut[m[2]:m[3]])
	mb, _ := strconv.ParseInt(errOut[m[4]:m[5]], 10, 64)
	if packages < 100 { // example-abinary has about 250, most of them the standard library's
		t.Errorf("the estimate says %d packages", packages)
	}
	if used := dirBytes(cache); used > mb*1e6 || used < mb*1e6/2 {
		t.Errorf("the estimate says %d MB of disk, and the install left %.1f MB in the cache", mb, float64(used)/1e6)
	}
	for _, line := range regexp.MustCompile(`Compiled [^\n]*`).FindAllString(errOut, -1) {
		if !regexp.MustCompile(`^Compiled \d+ of ` + strconv.Itoa(packages) + ` packages \([0-9ms.]+, about \d+ (?:s|min) left\)$|^Compiled \d+ packages \([0-9ms.]+, nearly done\)$`).MatchString(line) {
			t.Errorf("a progress line of the cold build: %q", line)
		}
	}

	_, errOut, err = run(t, bin, env, "plugin", "remove", aplugin)
	if err != nil || !strings.Contains(errOut, compiling) || strings.Contains(errOut, "First install") || strings.Contains(errOut, "Cold build") {
		t.Fatalf("a repeat install: %v\n%s", err, errOut)
	}

	// Another machine's view: a cache whose build cache the go command
	// emptied, with the record of the builds before.
	later := filepath.Join(tempDir(t), "go-selfcompile")
	os.MkdirAll(later, 0o700)
	var runs []map[string]any
	data, err := os.ReadFile(filepath.Join(root, "builds.json"))
	if err != nil || json.Unmarshal(data, &runs) != nil || len(runs) != 2 {
		t.Fatalf("the record of the builds: %v %s", err, data)
	}
	for _, r := range runs {
		r["end"] = time.Now().Add(-6 * 24 * time.Hour)
	}
	data, _ = json.Marshal(runs)
	os.WriteFile(filepath.Join(later, "builds.json"), data, 0o600)
	out, errOut, err := run(t, bin, []string{"XDG_CACHE_HOME=" + filepath.Dir(later)}, "plugin", "add", "--dry-run", aplugin)
	if err != nil || !regexp.MustCompile(`\nCold build \(the build cache no longer holds this program\): compiles about \d+ packages; about \d+ (?:s|min) on this machine \(from its earlier builds\); needs about \d+ MB`).MatchString(out) {
		t.Fatalf("a dry run after the build cache was trimmed: %v\n%s%s", err, out, errOut)
	}
}
