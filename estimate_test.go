package selfcompile

import (
	"strings"
	"testing"
	"time"
)

// The time of an estimate comes from this machine's earlier builds that
// compiled many packages (a build that compiled a few is mostly linking);
// without any, from the default, and the estimate says which.
func TestEstimateTime(t *testing.T) {
	runs := []buildRun{
		{Compiled: 200, Seconds: 20},
		{Compiled: 3, Seconds: 2}, // a repeat install: not a sample
		{Compiled: 200, Seconds: 40},
	}
	per, measured := perPackage(runs)
	if !measured || per != 150*time.Millisecond {
		t.Errorf("from earlier builds: %v a package, measured %v; want 150ms, true", per, measured)
	}
	if per, measured := perPackage(runs[1:2]); measured || per != defaultPerPackage {
		t.Errorf("without a build of many packages: %v, measured %v; want the default", per, measured)
	}
	e := &Estimate{First: true, Packages: 256, Time: 256 * per, Measured: true, Disk: 320e6, CacheDir: "/c/go-selfcompile"}
	want := "First install: compiles about 256 packages; about 40 s on this machine (from its earlier builds); needs about 320 MB of disk in /c/go-selfcompile"
	if got := e.String(); got != want {
		t.Errorf("estimate:\n got %s\nwant %s", got, want)
	}
	e.Measured, e.Time = false, 256*defaultPerPackage
	if got := e.String(); !strings.Contains(got, "about 2 min (a conservative default: no earlier build on this machine to go by)") {
		t.Errorf("estimate from the default: %s", got)
	}
}

// The record tells a program built lately with the same toolchain (its
// packages are in the build cache) from one built more than five days ago
// (the go command has removed them) or with another toolchain; a trim
// forgets the other programs' builds, whose entries it removed.
func TestBuildRecord(t *testing.T) {
	cache := t.TempDir()
	now := time.Now()
	if err := writeBuilds(cache, []buildRun{
		{Toolchain: "go1.26.8-aaa", Main: "example.com/a", Compiled: 250, Seconds: 40, End: now.Add(-24 * time.Hour)},
		{Toolchain: "go1.26.8-aaa", Main: "example.com/old", Compiled: 250, Seconds: 40, End: now.Add(-6 * 24 * time.Hour)},
		{Toolchain: "go1.26.8-aaa", Main: "example.com/b", Compiled: 250, Seconds: 40, End: now.Add(-time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	runs := readBuilds(cache)
	for _, c := range []struct {
		toolchain, main string
		warm, seen      bool
	}{
		{"go1.26.8-aaa", "example.com/a", true, true},
		{"go1.26.8-aaa", "example.com/old", false, true},
		{"go1.26.9-bbb", "example.com/a", false, false},
		{"go1.26.8-aaa", "example.com/new", false, false},
	} {
		if warm, seen := recent(runs, c.toolchain, c.main, now); warm != c.warm || seen != c.seen {
			t.Errorf("%s with %s: warm %v, seen %v; want %v, %v", c.main, c.toolchain, warm, seen, c.warm, c.seen)
		}
	}
	forgetBuilds(cache, "go1.26.8-aaa", "example.com/a")
	runs = readBuilds(cache)
	if warm, _ := recent(runs, "go1.26.8-aaa", "example.com/b", now); warm {
		t.Error("after a trim for example.com/a, example.com/b is still taken for built lately")
	}
	if warm, _ := recent(runs, "go1.26.8-aaa", "example.com/a", now); !warm {
		t.Error("a trim forgot the build of the program it kept")
	}
	if _, measured := perPackage(runs); !measured {
		t.Error("a trim forgot the builds' times")
	}
}

// The build's progress every ten seconds: of a cold build, the packages
// compiled of those it compiles, with the time left at the rate so far.
func TestProgressLine(t *testing.T) {
	est := &Estimate{Packages: 263}
	for _, c := range []struct {
		n    int
		el   time.Duration
		est  *Estimate
		want string
	}{
		{120, 45 * time.Second, est, "Compiled 120 of 263 packages (45s, about 55 s left)"},
		{60, 30 * time.Second, est, "Compiled 60 of 263 packages (30s, about 2 min left)"},
		{270, 90 * time.Second, est, "Compiled 270 packages (1m30s, nearly done)"},
		{12, 10 * time.Second, nil, "Compiled 12 packages of the 263 in the program (10s)"},
	} {
		if got := progressLine(c.n, 263, c.el, c.est); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}
