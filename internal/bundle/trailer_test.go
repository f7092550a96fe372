package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestTrailerSum: a bundle's trailer is its last TrailerLen bytes, and
// holds the sha256 of the bytes before it; anything that does not end
// with a trailer has none.
func TestTrailerSum(t *testing.T) {
	data := writeSample(t, sampleFiles)
	tr := Trailer(bytes.NewReader(data), int64(len(data)))
	if !bytes.Equal(tr, data[len(data)-int(TrailerLen):]) {
		t.Fatalf("Trailer = %x, want the bundle's last bytes", tr)
	}
	sum := sha256.Sum256(data[:len(data)-int(TrailerLen)])
	if got := TrailerSum(tr); got != hex.EncodeToString(sum[:]) {
		t.Errorf("TrailerSum = %s, want %x", got, sum)
	}
	for name, b := range map[string][]byte{
		"no bytes":                 nil,
		"fewer than a trailer":     data[len(data)-int(TrailerLen)+1:],
		"a bundle cut short":       data[:len(data)-1],
		"a bundle with more after": append(bytes.Clone(data), 0),
	} {
		if got := Trailer(bytes.NewReader(b), int64(len(b))); got != nil {
			t.Errorf("Trailer of %s = %x, want nil", name, got)
		}
	}
	if got := TrailerSum(tr[1:]); got != "" {
		t.Errorf("TrailerSum of a short trailer = %q", got)
	}
}
