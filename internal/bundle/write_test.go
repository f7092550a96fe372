package bundle

import (
	"bytes"
	"slices"
	"testing"
)

// TestParseLevel reads each level's name back to the level, "" as the
// best; an unknown name is an error.
func TestParseLevel(t *testing.T) {
	for _, l := range []Level{LevelBest, LevelDefault, LevelFastest} {
		if got, err := ParseLevel(l.String()); err != nil || got != l {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", l.String(), got, err, l)
		}
	}
	if got, err := ParseLevel(""); err != nil || got != LevelBest {
		t.Errorf(`ParseLevel("") = %v, %v; want best`, got, err)
	}
	for _, s := range []string{"fast", "BEST", "9"} {
		if _, err := ParseLevel(s); err == nil {
			t.Errorf("ParseLevel(%q) succeeded", s)
		}
	}
}

// TestLevelsSameContent: the level changes the bytes, not what the bundle
// holds: the parts' digests are the same, and each restores the same
// files.
func TestLevelsSameContent(t *testing.T) {
	parts := testParts(t, sampleFiles)
	var manifests []*Manifest
	for _, l := range []Level{LevelBest, LevelDefault, LevelFastest} {
		var buf bytes.Buffer
		m := sampleManifest()
		if err := Write(&buf, m, parts, l); err != nil {
			t.Fatalf("%v: %v", l, err)
		}
		if err := restoreAll(buf.Bytes(), t.TempDir()); err != nil {
			t.Errorf("the bundle written at %v: %v", l, err)
		}
		manifests = append(manifests, m)
	}
	for _, m := range manifests[1:] {
		if !slices.EqualFunc(m.Parts, manifests[0].Parts, func(a, b Part) bool { return a.Digest == b.Digest && a.Files == b.Files && a.Size == b.Size }) {
			t.Errorf("parts %+v, want %+v", m.Parts, manifests[0].Parts)
		}
	}
}
