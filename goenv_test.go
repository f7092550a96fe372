package selfcompile

import (
	"reflect"
	"runtime/debug"
	"slices"
	"testing"
)

func settings(kv ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{}
	for i := 0; i < len(kv); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
	}
	return bi
}

// The flags that reproduce a build, from what go version -m shows of a
// -trimpath release build; -ldflags, which -trimpath builds do not record
// (golang/go#63432), come from the host.
func TestBuildFlags(t *testing.T) {
	bi := settings("-buildmode", "exe", "-compiler", "gc", "-tags", "netgo,osusergo", "-trimpath", "true",
		"-gcflags", "all=-l", "-race", "false", "CGO_ENABLED", "0", "GOARCH", "amd64", "GOOS", "linux", "GOAMD64", "v3")
	want := []string{"-trimpath", "-tags=netgo,osusergo", "-gcflags=all=-l", "-ldflags=-X main.version=1.2.3"}
	if got := buildFlags(bi, "-X main.version=1.2.3"); !reflect.DeepEqual(got, want) {
		t.Errorf("buildFlags = %q, want %q", got, want)
	}
	bi = settings("-buildmode", "pie", "-ldflags", "-s -w", "-race", "true")
	want = []string{"-trimpath", "-buildmode=pie", "-race", "-ldflags=-s -w"}
	if got := buildFlags(bi, ""); !reflect.DeepEqual(got, want) {
		t.Errorf("buildFlags = %q, want %q", got, want)
	}
}

// The target settings a binary records come back as the environment of
// its rebuild; cgo stays on only where a C compiler is.
func TestSettingsEnv(t *testing.T) {
	bi := settings("-trimpath", "true", "CGO_ENABLED", "1", "CGO_CFLAGS", "-O2", "GOARCH", "arm64", "GOOS", "linux", "GOARM64", "v8.0", "GOEXPERIMENT", "greenteagc", "vcs", "git")
	t.Setenv("CC", "")
	t.Setenv("PATH", t.TempDir()) // no C compiler
	got := settingsEnv(bi)
	want := []string{"CGO_ENABLED=0", "CGO_CFLAGS=-O2", "GOARCH=arm64", "GOOS=linux", "GOARM64=v8.0", "GOEXPERIMENT=greenteagc"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("settingsEnv = %q, want %q", got, want)
	}
	if slices.Contains(got, "vcs=git") {
		t.Error("a setting that is not an environment variable came through")
	}
}
