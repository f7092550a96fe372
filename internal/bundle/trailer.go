package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
)

// The trailer is a zstd skippable frame, which decoders pass over: the
// frame's magic and length, trailerTag, the sha256 of the bytes before the
// trailer, and their number. It lets a reader check a bundle before any
// work, and find bundles inside an executable file.
const (
	trailerMagic = 0x184D2A5E
	trailerTag   = "selfcompile\x02"
	trailerData  = len(trailerTag) + sha256.Size + 8
	TrailerLen   = int64(8 + trailerData)
)

// trailerHead is the start of every trailer: what Locate looks for.
var trailerHead = string(binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, trailerMagic), uint32(trailerData))) + trailerTag

func trailer(sum []byte, n int64) []byte {
	b := []byte(trailerHead)
	b = append(b, sum...)
	return binary.LittleEndian.AppendUint64(b, uint64(n))
}

// Verify checks the trailer at the end of the size bytes of r: that it is
// there, and that the sha256 and length it records are those of the bytes
// before it.
func Verify(r io.ReaderAt, size int64) error {
	if size < TrailerLen {
		return corrupt("it is %d bytes, too short to be a bundle", size)
	}
	tail := make([]byte, TrailerLen)
	if _, err := r.ReadAt(tail, size-TrailerLen); err != nil {
		return corrupt("reading its trailer: %v", err)
	}
	if string(tail[:len(trailerHead)]) != trailerHead {
		return corrupt("it has no checksum trailer (truncated?)")
	}
	return checkBody(r, size-TrailerLen, tail)
}

// checkBody checks that the body bytes of r before the trailer tail match
// it.
func checkBody(r io.ReaderAt, body int64, tail []byte) error {
	if n := binary.LittleEndian.Uint64(tail[len(tail)-8:]); n != uint64(body) {
		return corrupt("it is %d bytes and its trailer says %d (truncated?)", body, n)
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, io.NewSectionReader(r, 0, body), make([]byte, 256<<10)); err != nil {
		return corrupt("reading it: %v", err)
	}
	if !bytes.Equal(h.Sum(nil), tail[len(trailerHead):len(trailerHead)+sha256.Size]) {
		return corrupt("its sha256 does not match its trailer")
	}
	return nil
}

// Locate finds the bundles in the size bytes of r, an executable file that
// embeds them, and returns each as a reader of exactly its bytes, in the
// order they appear. Only bundles whose trailer matches their bytes are
// returned.
func Locate(r io.ReaderAt, size int64) ([]*io.SectionReader, error) {
	const chunk = 4 << 20
	var found []*io.SectionReader
	buf := make([]byte, chunk+int(TrailerLen))
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
			at := off + int64(i+j)
			if s := bundleEndingAt(r, at, size); s != nil {
				found = append(found, s)
			}
			i += j + 1
		}
	}
	return found, nil
}

// bundleEndingAt returns the bundle whose trailer starts at offset at of
// r, or nil if the bytes there are not one.
func bundleEndingAt(r io.ReaderAt, at, size int64) *io.SectionReader {
	if at+TrailerLen > size {
		return nil
	}
	tail := make([]byte, TrailerLen)
	if _, err := r.ReadAt(tail, at); err != nil {
		return nil
	}
	body := int64(binary.LittleEndian.Uint64(tail[TrailerLen-8:]))
	if body <= 0 || body > at {
		return nil
	}
	start := at - body
	if checkBody(io.NewSectionReader(r, start, body), body, tail) != nil {
		return nil
	}
	return io.NewSectionReader(r, start, body+TrailerLen)
}
