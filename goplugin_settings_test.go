package selfcompile

import (
	"bytes"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/bundle"
)

// checkLiveSettings refuses programs whose build no plugin built on the
// machine can match, with ErrNoGoPlugins, as the go command records them.
func TestCheckLiveSettings(t *testing.T) {
	set := func(kv ...string) *debug.BuildInfo {
		bi := &debug.BuildInfo{}
		for i := 0; i < len(kv); i += 2 {
			bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return bi
	}
	for _, c := range []struct {
		bi   *debug.BuildInfo
		says string
	}{
		{set("-buildmode", "exe", "CGO_ENABLED", "1", "-trimpath", "true"), ""},
		{set("CGO_ENABLED", "0", "-trimpath", "true"), "without cgo"},
		{set("-buildmode", "pie", "CGO_ENABLED", "1"), "without -trimpath"},
		{nil, "without cgo"},
	} {
		err := checkLiveSettings(c.bi)
		if c.says == "" && err != nil || c.says != "" && (!errors.Is(err, ErrNoGoPlugins) || !strings.Contains(fmt.Sprint(err), c.says)) {
			t.Errorf("%v: %v, want one saying %q", c.bi, err, c.says)
		}
	}
}

// A program whose bundles are beside it embeds only its beside bundle: the
// build list a live plugin is checked against is the one of the shared
// bundle it names, not an empty one.
func TestEmbeddedBuildListBeside(t *testing.T) {
	shared := &bundle.Manifest{Kind: bundle.Shared, BuildList: []string{"example.com/host", "github.com/spf13/pflag v1.0.5"}}
	m := &bundle.Manifest{Kind: bundle.Beside, Side: &bundle.Side{Path: "host.selfcompile", Bundles: []bundle.SideBundle{{Manifest: shared}}}}
	var b bytes.Buffer
	if err := bundle.Write(&b, m, nil, bundle.LevelFastest); err != nil {
		t.Fatal(err)
	}
	list, err := embeddedBuildList(b.String(), "")
	if err != nil {
		t.Fatal(err)
	}
	if got := list["github.com/spf13/pflag"].Version; got != "v1.0.5" {
		t.Errorf("the running program's pflag: %q, want v1.0.5 (build list %v)", got, list)
	}
}
