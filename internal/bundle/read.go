package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/klauspost/compress/zstd"
)

const maxManifest = 1 << 20

// Reader reads a bundle sequentially. It holds no more than one buffer and
// the decoder's window in memory.
type Reader struct {
	// Manifest is the bundle's manifest, read by Open.
	Manifest Manifest
	zr       *zstd.Decoder
	tr       *tar.Reader
	next     *tar.Header // the next entry, read ahead; nil at the end
	nextErr  error       // why the entry after the manifest could not be read
	partIdx  int         // index into Manifest.Parts of the next part
}

// decoders keeps the decoders of closed readers: a decoder's window is
// most of the memory a restore takes, and the installer reads its bundles
// one after the other.
var decoders sync.Pool

// Open reads the manifest at the start of r and checks its format. The
// caller must Close the reader. Open does not check the trailer: Locate
// does.
func Open(r io.Reader) (*Reader, error) {
	zr, _ := decoders.Get().(*zstd.Decoder)
	if zr == nil {
		var err error
		zr, err = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(64<<20),
		)
		if err != nil {
			return nil, corrupt("%v", err)
		}
	}
	if err := zr.Reset(r); err != nil {
		decoders.Put(zr)
		return nil, corrupt("%v", err)
	}
	b := &Reader{zr: zr, tr: tar.NewReader(zr)}
	if err := b.readManifest(); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Reader) readManifest() error {
	hdr, err := b.tr.Next()
	if err != nil {
		return corrupt("reading manifest: %v", err)
	}
	if hdr.Name != "manifest.json" || hdr.Typeflag != tar.TypeReg || hdr.Size > maxManifest {
		return corrupt("first entry is %q, not the manifest", hdr.Name)
	}
	data, err := io.ReadAll(b.tr)
	if err != nil {
		return corrupt("reading manifest: %v", err)
	}
	if err := json.Unmarshal(data, &b.Manifest); err != nil {
		return corrupt("manifest: %v", err)
	}
	if b.Manifest.Format != Format && b.Manifest.Format != formatNoFilters {
		return fmt.Errorf("%w: bundle format %d, this program reads formats %d and %d (rebuild it with the go-selfcompile that matches its library)", ErrFormat, b.Manifest.Format, formatNoFilters, Format)
	}
	for _, p := range b.Manifest.Parts {
		if len(p.Digest) != 2*sha256.Size {
			return corrupt("part %q has no digest", p.Name)
		}
	}
	if m := b.Manifest.Module; m != nil && (len(m.Part.Digest) != 2*sha256.Size || m.Sum == "" || m.Version == "") {
		return corrupt("the pinned toolchain module has no version, hash or digest")
	}
	// Damage after the manifest is reported by the part it is in.
	b.nextErr = b.advance()
	return nil
}

// ReadManifest returns the manifest of the bundle that r starts with.
func ReadManifest(r io.Reader) (*Manifest, error) {
	b, err := Open(r)
	if err != nil {
		return nil, err
	}
	b.Close()
	m := b.Manifest // not a pointer into b: the decoder's buffers go with it
	return &m, nil
}

// Close releases the decoder for the next reader.
func (b *Reader) Close() {
	if b.zr != nil {
		b.zr.Reset(nil)
		decoders.Put(b.zr)
		b.zr = nil
	}
}

func (b *Reader) advance() error {
	hdr, err := b.tr.Next()
	if err == io.EOF {
		b.next = nil
		return nil
	}
	if err != nil {
		return corrupt("%v", err)
	}
	b.next = hdr
	return nil
}

// nextPart checks that the next part is called name and returns it.
func (b *Reader) nextPart(name string) (Part, error) {
	if err := b.nextErr; err != nil {
		b.nextErr = nil
		return Part{}, err
	}
	if b.partIdx >= len(b.Manifest.Parts) || b.Manifest.Parts[b.partIdx].Name != name {
		return Part{}, corrupt("part %q is not next in the bundle", name)
	}
	b.partIdx++
	return b.Manifest.Parts[b.partIdx-1], nil
}

// Restore restores the next part, which must be called name, into dir,
// which must exist and hold none of the part's files. It verifies the
// part's digest; on a mismatch it returns an error and dir holds an
// unverified tree that the caller must remove. With dir == "" the part is
// read and verified but not written. progress, if not nil, is called with
// the bytes of each file written.
func (b *Reader) Restore(name, dir string, progress func(n int64)) error {
	want, err := b.nextPart(name)
	if err != nil {
		return err
	}
	d := newDigest()
	prefix := name + "/"
	buf := make([]byte, 256<<10)
	lastDir := "" // entries come sorted: most share the directory of the one before
	// The part may not write more than its manifest declares, which is what
	// the caller checked the disk has room for: a decompression bomb stops
	// there.
	budget := want.Size
	for b.next != nil && strings.HasPrefix(b.next.Name, prefix) {
		hdr := b.next
		rel := strings.TrimPrefix(hdr.Name, prefix)
		if hdr.Typeflag != tar.TypeReg {
			return corrupt("entry %q: only regular files are allowed (type %q)", hdr.Name, hdr.Typeflag)
		}
		local, err := LocalPath(rel)
		if err != nil {
			return corrupt("entry %q: %v", hdr.Name, err)
		}
		if hdr.Size > budget || d.files >= want.Files {
			return corrupt("part %q is larger than its manifest says", name)
		}
		budget -= hdr.Size
		exec := hdr.Mode&0o111 != 0
		sum, n, err := b.restoreFile(hdr, dir, local, exec, &lastDir, buf)
		if err != nil {
			return err
		}
		d.add(rel, exec, sum, n)
		if progress != nil {
			progress(n)
		}
		if err := b.advance(); err != nil {
			return err
		}
	}
	if got := d.sum(); got != want.Digest || d.files != want.Files {
		return corrupt("part %q does not match its manifest (digest %.12s, want %.12s)", name, got, want.Digest)
	}
	return nil
}

// restoreFile writes the current entry to dir/local, or only hashes it
// when dir is "", and returns its sha256 and size.
func (b *Reader) restoreFile(hdr *tar.Header, dir, local string, exec bool, lastDir *string, buf []byte) ([]byte, int64, error) {
	h := sha256.New()
	var w io.Writer = h
	var f *os.File
	if dir != "" {
		dst := filepath.Join(dir, local)
		if parent := filepath.Dir(dst); parent != *lastDir {
			if err := os.MkdirAll(parent, 0o755); err != nil {
				return nil, 0, err
			}
			*lastDir = parent
		}
		mode := fs.FileMode(0o644)
		if exec {
			mode = 0o755
		}
		var err error
		f, err = os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
		if errors.Is(err, fs.ErrExist) {
			return nil, 0, corrupt("entry %q appears twice", hdr.Name)
		}
		if err != nil {
			return nil, 0, err
		}
		w = io.MultiWriter(h, f)
	}
	var x86 *x86Decoder
	switch filter := hdr.PAXRecords[filterKey]; {
	case filter == filterX86 && b.Manifest.Format >= Format:
		x86 = &x86Decoder{w: w}
		w = x86
	case filter != "":
		if f != nil {
			f.Close()
		}
		return nil, 0, corrupt("entry %q: unknown filter %q", hdr.Name, filter)
	}
	n, err := io.CopyBuffer(w, b.tr, buf)
	if err == nil && x86 != nil {
		err = x86.Close()
	}
	if f != nil {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, 0, err
		}
		return nil, 0, corrupt("entry %q: %v", hdr.Name, err)
	}
	return h.Sum(nil), n, nil
}

// Skip reads past the next part, which must be called name, without
// verifying it.
func (b *Reader) Skip(name string) error {
	if _, err := b.nextPart(name); err != nil {
		return err
	}
	for b.next != nil && strings.HasPrefix(b.next.Name, name+"/") {
		if err := b.advance(); err != nil {
			return err
		}
	}
	return nil
}

// End checks that nothing follows the last part.
func (b *Reader) End() error {
	if b.nextErr != nil {
		return b.nextErr
	}
	if b.next != nil {
		return corrupt("unexpected entry %q", b.next.Name)
	}
	if b.partIdx != len(b.Manifest.Parts) {
		return corrupt("bundle ends before part %q", b.Manifest.Parts[b.partIdx].Name)
	}
	return nil
}

// LocalPath turns a slash-separated entry name into a relative OS path,
// refusing anything that would leave the directory it is joined to.
func LocalPath(name string) (string, error) {
	if name == "" || !fs.ValidPath(name) || path.Clean(name) != name {
		return "", errors.New("invalid name")
	}
	local, err := filepath.Localize(name)
	if err != nil {
		return "", err
	}
	if !filepath.IsLocal(local) {
		return "", errors.New("name escapes the directory")
	}
	return local, nil
}
