package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// --host-version takes a semantic version, checked before any work.
func TestHostVersionFlag(t *testing.T) {
	for _, v := range []string{"1.2.0", "v1.2", "latest"} {
		err := run(context.Background(), []string{"-C", t.TempDir(), "--host-version", v}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "want a semantic version") {
			t.Errorf("--host-version %s: %v; want it refused", v, err)
		}
	}
}

// --bundle takes embed, beside or fetch; --bundle-path only goes with
// beside, and --bundle-url with fetch, an https or file URL; fetch without
// a URL (through the module proxy) ships no build cache entries; all are
// checked before any work.
func TestBundleFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--bundle", "fetched"}, `--bundle "fetched": want embed, beside or fetch`},
		{[]string{"--bundle-url", "https://example.com/dl"}, "--bundle-url is for --bundle fetch"},
		{[]string{"--bundle", "beside", "--bundle-url", "https://example.com/dl"}, "--bundle-url is for --bundle fetch"},
		{[]string{"--bundle", "fetch", "--warm-cache"}, "not with --skip-source, a bundle file (beside, or a bundle URL) or a warm cache"},
		{[]string{"--bundle", "fetch", "--skip-source"}, "not with --skip-source, a bundle file (beside, or a bundle URL) or a warm cache"},
		{[]string{"--bundle", "fetch", "--bundle-url", "http://example.com/dl"}, "want an https URL"},
		{[]string{"--bundle", "fetch", "--bundle-url", "https://example.com/dl", "--bundle-path", "x"}, "--bundle-path is for --bundle beside"},
		{[]string{"--bundle-path", "x.selfcompile"}, "--bundle-path is for --bundle beside"},
		{[]string{"--bundle", "embed", "--bundle-path", "x.selfcompile"}, "--bundle-path is for --bundle beside"},
	} {
		err := run(context.Background(), append([]string{"-C", t.TempDir()}, c.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v; want %q", c.args, err, c.want)
		}
	}
}
