package bundle

import (
	"encoding/binary"
	"io"
)

// The x86 branch filter. In x86 machine code, a CALL (0xE8) or JMP (0xE9)
// is followed by a 32-bit offset relative to the next instruction, so
// calls of one function from many places have as many different offsets.
// Written as absolute addresses instead, they repeat, and the compressor
// finds them: the toolchain's programs compress to 0.8 MB less. Like the
// BCJ filters of xz and 7-Zip, it converts only offsets within 16 MB
// (whose top byte is 0x00 or 0xFF), and keeps the converted value in
// that range, so that decoding makes the same choice at the same places.

// filterKey is the PAX record of a tar entry that names its filter, and
// filterX86 the only value.
const (
	filterKey = "GOSELFCOMPILE.filter"
	filterX86 = "x86"
)

// x86Convert converts the branch offsets of b, which starts at offset
// pos of its file, to absolute addresses (encode) or back, in place; limit
// is the offset before which no branch may be converted, and it returns
// the next limit and how many bytes of b are final: the rest, at most 4,
// are the start of an instruction that may continue in the next bytes.
//
// A branch left as it is (its offset too large) forbids converting the
// next three positions: their operands would cover its offset's top byte,
// and the decoder, which reads that byte after the conversion, would then
// decide otherwise than the encoder did.
func x86Convert(b []byte, pos, limit int64, encode bool) (int64, int) {
	i := 0
	for i+5 <= len(b) {
		at := pos + int64(i)
		if b[i] != 0xE8 && b[i] != 0xE9 {
			i++
			continue
		}
		if at < limit || (b[i+4] != 0x00 && b[i+4] != 0xFF) {
			limit = at + 4
			i++
			continue
		}
		v := int32(binary.LittleEndian.Uint32(b[i+1:]))
		next := int32(at + 5)
		if encode {
			v += next
		} else {
			v -= next
		}
		v = v << 7 >> 7 // back within ±16 MB, its top byte 0x00 or 0xFF
		binary.LittleEndian.PutUint32(b[i+1:], uint32(v))
		i += 5
	}
	return limit, i
}

// x86Encode converts a whole file for storing.
func x86Encode(b []byte) { x86Convert(b, 0, 0, true) }

// x86Decoder writes to w what it decodes of a file written to it.
// Close writes the last bytes.
type x86Decoder struct {
	w          io.Writer
	pos, limit int64
	pending    []byte
}

func (d *x86Decoder) Write(p []byte) (int, error) {
	d.pending = append(d.pending, p...)
	var n int
	d.limit, n = x86Convert(d.pending, d.pos, d.limit, false)
	if _, err := d.w.Write(d.pending[:n]); err != nil {
		return 0, err
	}
	d.pos += int64(n)
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return len(p), nil
}

// Close writes the bytes that end the file, which no instruction
// converted.
func (d *x86Decoder) Close() error {
	_, err := d.w.Write(d.pending)
	d.pending = nil
	return err
}
