package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"io"
	"maps"
	"slices"
)

// The trailer is a zstd skippable frame, which decoders pass over: the
// frame's magic and length, trailerTag, the sha256 of the bytes before the
// trailer, and their number. It lets a reader check a bundle before any
// work, and find bundles inside an executable file.
const (
	trailerMagic = 0x184D2A5E
	trailerTag   = "selfcompile\x02"
	trailerData  = len(trailerTag) + sha256.Size + 8
	// TrailerLen is the length of a trailer.
	TrailerLen = int64(8 + trailerData)
)

// zstdMagic starts every zstd frame, and so every bundle.
var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// trailerHead is the start of every trailer: what Locate looks for.
var trailerHead = string(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, trailerMagic), uint32(trailerData))) + trailerTag

func trailer(sum []byte, n int64) []byte {
	b := []byte(trailerHead)
	b = append(b, sum...)
	return binary.LittleEndian.AppendUint64(b, uint64(n))
}

// Trailer returns the trailer at the end of a bundle of size bytes, or nil
// if it has none. Equal trailers mean equal bundles.
func Trailer(r io.ReaderAt, size int64) []byte {
	if size < TrailerLen {
		return nil
	}
	t := make([]byte, TrailerLen)
	if _, err := r.ReadAt(t, size-TrailerLen); err != nil || string(t[:len(trailerHead)]) != trailerHead {
		return nil
	}
	return t
}

// TrailerSum returns the hex sha256 that a trailer holds: that of the
// bundle's bytes before it.
func TrailerSum(t []byte) string {
	if len(t) != int(TrailerLen) {
		return ""
	}
	return hex.EncodeToString(t[len(trailerHead) : len(trailerHead)+sha256.Size])
}

// maxCandidates bounds the bundles Locate checks in one file: a program
// carries at most three, and each check reads the bundle.
const maxCandidates = 16

// candidate is a trailer found in a file, and the bundle it names.
type candidate struct {
	start, at int64 // the bundle's first byte, and its trailer's
	sum       []byte
}

// Locate finds the bundles in the size bytes of r, an executable file that
// embeds them, and returns each as a reader of exactly its bytes, trailer
// included, in the order they appear. A trailer whose bytes do not match
// it is a *CorruptError that names the damaged bundle and, where it can be
// read, its kind and part. The file is read once, and each bundle once
// more to check it.
func Locate(r io.ReaderAt, size int64) ([]*io.SectionReader, error) {
	cands, err := findTrailers(r, size)
	if err != nil {
		return nil, err
	}
	starts := map[int64][]candidate{}
	for _, c := range cands {
		starts[c.start] = append(starts[c.start], c)
	}
	if len(starts) > maxCandidates {
		return nil, corrupt("the file holds %d bundle trailers, more than any program this library builds", len(starts))
	}
	var found []*io.SectionReader
	for _, start := range slices.Sorted(maps.Keys(starts)) {
		good, bad, err := checkFrom(r, start, starts[start])
		if err != nil {
			return nil, err
		}
		if bad != nil && good == nil {
			return nil, damaged(r, *bad)
		}
		if good != nil {
			found = append(found, io.NewSectionReader(r, good.start, good.at+TrailerLen-good.start))
		}
	}
	slices.SortFunc(found, func(a, b *io.SectionReader) int {
		_, oa, _ := a.Outer()
		_, ob, _ := b.Outer()
		return int(oa - ob)
	})
	return found, nil
}

// findTrailers scans the file once for trailers whose bundle starts with
// a zstd frame; a trailer that names anything else is damage.
func findTrailers(r io.ReaderAt, size int64) ([]candidate, error) {
	const chunk = 4 << 20
	var cands []candidate
	buf := make([]byte, chunk+int(TrailerLen))
	magic := make([]byte, len(zstdMagic))
	for off := int64(0); off < size; off += chunk {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if err != nil && err != io.EOF {
			return nil, err
		}
		b := buf[:n]
		for i := 0; ; {
			j := bytes.Index(b[i:], []byte(trailerHead))
			if j < 0 || i+j >= chunk { // a match past chunk is found with the next chunk
				break
			}
			i += j
			at := off + int64(i)
			i++
			if int64(i-1)+TrailerLen > int64(len(b)) {
				return nil, corrupt("the file ends inside a bundle trailer at byte %d (truncated?)", at)
			}
			tail := b[i-1 : i-1+int(TrailerLen)]
			body := int64(binary.LittleEndian.Uint64(tail[TrailerLen-8:]))
			if body <= 0 || body > at {
				return nil, corrupt("the bundle trailer at byte %d names %d bytes before it, which the file does not have (damaged?)", at, body)
			}
			c := candidate{start: at - body, at: at, sum: slices.Clone(tail[len(trailerHead) : len(trailerHead)+sha256.Size])}
			if _, err := r.ReadAt(magic, c.start); err != nil || !bytes.Equal(magic, zstdMagic) {
				return nil, corrupt("the bundle trailer at byte %d names a bundle at byte %d that is not there (damaged?)", at, c.start)
			}
			cands = append(cands, c)
		}
	}
	return cands, nil
}

// checkFrom hashes the file from start once, and checks against it each
// candidate bundle that starts there, shortest first. It returns the one
// that matches its trailer, if any, and one that does not.
func checkFrom(r io.ReaderAt, start int64, cands []candidate) (good, bad *candidate, err error) {
	slices.SortFunc(cands, func(a, b candidate) int { return int(a.at - b.at) })
	h := sha256.New()
	pos := start
	buf := make([]byte, 256<<10)
	for i := range cands {
		c := &cands[i]
		if _, err := io.CopyBuffer(h, io.NewSectionReader(r, pos, c.at-pos), buf); err != nil {
			return nil, nil, corrupt("reading the bundle at byte %d: %v", start, err)
		}
		pos = c.at
		if bytes.Equal(snapshotSum(h), c.sum) {
			good = c
		} else if bad == nil {
			bad = c
		}
	}
	return good, bad, nil
}

// snapshotSum returns the sum of what h has hashed, leaving h as it is.
func snapshotSum(h hash.Hash) []byte {
	state, _ := h.(encoding.BinaryMarshaler).MarshalBinary()
	c := sha256.New()
	c.(encoding.BinaryUnmarshaler).UnmarshalBinary(state)
	return c.Sum(nil)
}

// damaged describes a bundle that does not match its trailer: its kind and
// the first part whose content does not match its manifest, where they can
// be read.
func damaged(r io.ReaderAt, c candidate) error {
	s := io.NewSectionReader(r, c.start, c.at-c.start)
	b, err := Open(s)
	if err != nil {
		return corrupt("the bundle at byte %d does not match its checksum, and its manifest cannot be read (%s)", c.start, reasonOf(err))
	}
	defer b.Close()
	kind := b.Manifest.Kind
	for _, p := range b.Manifest.Parts {
		if err := b.Restore(p.Name, "", nil); err != nil {
			return corrupt("the %s bundle's %s part is damaged: %s", kind, p.Name, reasonOf(err))
		}
	}
	return corrupt("the %s bundle does not match its checksum", kind)
}

// reasonOf returns what a *CorruptError says is wrong, or err's text.
func reasonOf(err error) string {
	if ce, ok := err.(*CorruptError); ok {
		return ce.Reason
	}
	return err.Error()
}
