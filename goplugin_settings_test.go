package selfcompile

import (
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
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
