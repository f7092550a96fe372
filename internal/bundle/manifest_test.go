package bundle

import (
	"bytes"
	"testing"
)

// TestSharedManifest is a shared bundle's own manifest, or for a beside
// bundle that of the shared bundle in the file it names; nil when it names
// none.
func TestSharedManifest(t *testing.T) {
	shared := &Manifest{Kind: Shared, MainModule: "example.com/host"}
	toolchain := &Manifest{Kind: Toolchain}
	if got := shared.SharedManifest(); got != shared {
		t.Errorf("a shared bundle's: %v", got)
	}
	beside := &Manifest{Kind: Beside, Side: &Side{Path: "p", Bundles: []SideBundle{{Manifest: toolchain}, {Manifest: nil}, {Manifest: shared}}}}
	if got := beside.SharedManifest(); got != shared {
		t.Errorf("a beside bundle's: %v, want the shared bundle's it names", got)
	}
	for _, m := range []*Manifest{
		{Kind: Beside},
		{Kind: Beside, Side: &Side{Path: "p", Bundles: []SideBundle{{Manifest: toolchain}}}},
	} {
		if got := m.SharedManifest(); got != nil {
			t.Errorf("a beside bundle naming no shared bundle: %v, want nil", got)
		}
	}
}

// TestSideBundleTrailer: the trailer a beside bundle gives a bundle in the
// side file, from its size and sha256, is the one that bundle ends with.
func TestSideBundleTrailer(t *testing.T) {
	data := writeSample(t, sampleFiles)
	tr := Trailer(bytes.NewReader(data), int64(len(data)))
	sb := SideBundle{Size: int64(len(data)), SHA256: TrailerSum(tr)}
	if got := sb.Trailer(); !bytes.Equal(got, data[len(data)-int(TrailerLen):]) {
		t.Errorf("SideBundle.Trailer = %x, want the bundle's last %d bytes", got, TrailerLen)
	}
	sb.Size++
	if bytes.Equal(sb.Trailer(), tr) {
		t.Error("a bundle of another size has the same trailer")
	}
}

// TestManifestParts: Part finds a part by name, as Write described it;
// Size adds up their bytes.
func TestManifestParts(t *testing.T) {
	var buf bytes.Buffer
	m := sampleManifest()
	if err := Write(&buf, m, testParts(t, sampleFiles), LevelFastest); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, content := range sampleFiles {
		total += int64(len(content))
	}
	if m.Size() != total {
		t.Errorf("Size = %d, want the %d bytes of the files", m.Size(), total)
	}
	p, ok := m.Part(PartToolchain)
	if !ok || p.Name != PartToolchain || p.Files != 3 || len(p.Digest) != 64 {
		t.Errorf("Part(toolchain) = %+v, %v", p, ok)
	}
	if p, ok := m.Part(PartCache); ok {
		t.Errorf("Part(cache) of a bundle without one = %+v, true", p)
	}
}
