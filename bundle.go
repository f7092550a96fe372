package selfcompile

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
)

// A bundle is one tar stream compressed with zstd. Its first entry is
// manifest.json; then come the parts, in the order the manifest lists them,
// each entry named "<part>/<slash path>". Only regular files are stored: the
// reader refuses links, devices and names that would leave the directory a
// part is restored into. A zstd skippable frame ends the bundle with the
// sha256 of everything before it, so that a flipped or missing byte anywhere
// is found before any work, even in parts that a restore skips because they
// are cached.

const (
	// BundleFile is the name of the bundle the generator writes next to the
	// main package and the generated Go file embeds.
	BundleFile = "selfcompile.bundle"

	bundleFormat = 1
	manifestName = "manifest.json"
	maxManifest  = 1 << 20

	// Part names, in the order they are stored. Parts that change with every
	// host release come first, so that a restore whose toolchain is already
	// cached can stop reading early.
	partSource    = "source"
	partModules   = "modules"
	partCache     = "cache" // optional: go build cache entries of the host's dependencies
	partToolchain = "toolchain"
)

// Manifest describes a bundle: what it was generated from and a digest of
// every part. It is the first entry of the bundle.
type Manifest struct {
	// Format is the bundle format version.
	Format int
	// GoVersion is the version of the bundled toolchain, as in "go1.26.8".
	GoVersion string
	// GOOS and GOARCH are the platform the bundled toolchain runs on.
	GOOS, GOARCH string
	// MainModule is the module path of the host program.
	MainModule string
	// MainPackage is the import path of the host's main package.
	MainPackage string
	// MainDir is the main package's directory relative to the module root,
	// slash-separated ("." for the root).
	MainDir string
	// SkipSource reports that the host source was left out; it is then
	// fetched through the module proxy at install time.
	SkipSource bool `json:",omitempty"`
	// LocalModules lists, in a plugin bundle, the modules of plugins
	// installed from a local folder, whose source it carries.
	LocalModules []string `json:",omitempty"`
	// Parts lists the parts in the order they are stored.
	Parts []Part
}

// Part describes one part of a bundle.
type Part struct {
	// Name is the part's name: "source", "modules", "cache" or
	// "toolchain".
	Name string
	// Files is the number of files in the part.
	Files int
	// Size is the uncompressed size of the part's files in bytes.
	Size int64
	// Compressed is the number of compressed bundle bytes the part took.
	Compressed int64 `json:"-"`
	// Digest is the hex sha256 of the part's index: one line per file with
	// the sha256 of its content, its mode and its name.
	Digest string
}

// Part returns the named part and whether the bundle has it.
func (m *Manifest) Part(name string) (Part, bool) {
	for _, p := range m.Parts {
		if p.Name == name {
			return p, true
		}
	}
	return Part{}, false
}

// bundleFile is one file that the writer stores.
type bundleFile struct {
	name string // slash path inside the part
	src  string // path on disk
	exec bool
}

// bundlePart is a named list of files in the order they are stored.
type bundlePart struct {
	name  string
	files []bundleFile
}

// partDigest accumulates the digest of one part.
type partDigest struct {
	h     hash.Hash
	files int
	size  int64
}

func newPartDigest() *partDigest { return &partDigest{h: sha256.New()} }

func (d *partDigest) add(name string, exec bool, sum []byte, size int64) {
	mode := "-"
	if exec {
		mode = "x"
	}
	fmt.Fprintf(d.h, "%x %s %s\n", sum, mode, name)
	d.files++
	d.size += size
}

func (d *partDigest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// Level is a compression level for bundles.
type Level int

// Compression levels. LevelBest is the default: it takes longer to
// generate but gives the smallest bundle.
const (
	LevelBest Level = iota
	LevelDefault
	LevelFastest
)

// ParseLevel parses "fastest", "default" or "best".
func ParseLevel(s string) (Level, error) {
	switch s {
	case "fastest":
		return LevelFastest, nil
	case "default":
		return LevelDefault, nil
	case "best", "":
		return LevelBest, nil
	}
	return 0, fmt.Errorf("unknown compression level %q (want fastest, default or best)", s)
}

// String returns the level's name.
func (l Level) String() string {
	switch l {
	case LevelFastest:
		return "fastest"
	case LevelDefault:
		return "default"
	}
	return "best"
}

// windowSize is the zstd window the writer uses. The reader needs as much
// memory as the window, so it is a trade between bundle size and the
// installer's peak memory: on the pruned linux/amd64 toolchain of go1.26,
// at the best level, 8 MB gives 27.8 MB, 16 MB 25.9 MB, 32 MB 24.4 MB, and
// 64 MB (the most a decoder accepts by default) 24.4 MB.
const windowSize = 32 << 20

// windowFor returns the window for a bundle of total raw bytes: no larger
// than the data needs, so that the small plugin bundle an install writes
// does not cost the installer the memory of a 32 MB window.
func windowFor(total int64) int {
	w := 1 << 20
	for w < windowSize && int64(w) < total {
		w <<= 1
	}
	return w
}

func (l Level) encoderOptions(window int) []zstd.EOption {
	lv := zstd.SpeedBestCompression
	switch l {
	case LevelFastest:
		lv = zstd.SpeedFastest
	case LevelDefault:
		lv = zstd.SpeedDefault
	}
	return []zstd.EOption{
		zstd.WithEncoderLevel(lv),
		zstd.WithWindowSize(window),
		zstd.WithEncoderCRC(true),
		zstd.WithEncoderConcurrency(1),
	}
}

// hashFile returns the sha256 and size of the file at p.
func hashFile(p string) ([]byte, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, 0, err
	}
	return h.Sum(nil), n, nil
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// writeBundle writes m and parts to w as a bundle. It fills in the digest,
// file count and sizes of each part in m. The output depends only on the
// files' names, contents and executable bits, so the same inputs give the
// same bytes.
func writeBundle(w io.Writer, m *Manifest, parts []bundlePart, level Level) error {
	// First pass: digest every part so the manifest can lead the stream.
	m.Format = bundleFormat
	m.Parts = m.Parts[:0]
	for _, p := range parts {
		d := newPartDigest()
		for _, f := range p.files {
			sum, size, err := hashFile(f.src)
			if err != nil {
				return err
			}
			d.add(f.name, f.exec, sum, size)
		}
		m.Parts = append(m.Parts, Part{Name: p.name, Files: d.files, Size: d.size, Digest: d.sum()})
	}
	manifest, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	var total int64
	for _, p := range m.Parts {
		total += p.Size
	}

	hw := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(w, hw)}
	zw, err := zstd.NewWriter(cw, level.encoderOptions(windowFor(total))...)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	if err := writeTarFile(tw, manifestName, false, int64(len(manifest)), strings.NewReader(string(manifest))); err != nil {
		return err
	}
	for i, p := range parts {
		if err := tw.Flush(); err != nil {
			return err
		}
		if err := zw.Flush(); err != nil {
			return err
		}
		start := cw.n
		for _, f := range p.files {
			if err := copyFileToTar(tw, p.name+"/"+f.name, f); err != nil {
				return err
			}
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if err := zw.Flush(); err != nil {
			return err
		}
		m.Parts[i].Compressed = cw.n - start
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	_, err = w.Write(trailer(hw.Sum(nil)))
	return err
}

// The trailer is a zstd skippable frame (which decoders pass over): magic,
// little-endian length, then trailerTag and the sha256 of the bytes before
// the trailer.
const (
	trailerMagic = 0x184D2A5E
	trailerTag   = "selfcompile\x00"
	trailerLen   = 8 + len(trailerTag) + sha256.Size
)

func trailer(sum []byte) []byte {
	b := binary.LittleEndian.AppendUint32(nil, trailerMagic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(trailerTag)+sha256.Size))
	b = append(b, trailerTag...)
	return append(b, sum...)
}

// checkTrailer verifies the sha256 at the end of a bundle.
func checkTrailer(bundle string) error {
	if len(bundle) < trailerLen {
		return corrupt("it is %d bytes, too short to be a bundle", len(bundle))
	}
	body, tail := bundle[:len(bundle)-trailerLen], bundle[len(bundle)-trailerLen:]
	h := sha256.New()
	io.CopyBuffer(h, &releasingReader{s: body}, make([]byte, 64<<10))
	want := trailer(h.Sum(nil))
	if tail[:8+len(trailerTag)] != string(want[:8+len(trailerTag)]) {
		return corrupt("it has no checksum trailer (truncated?)")
	}
	if tail != string(want) {
		return corrupt("its sha256 does not match its trailer")
	}
	return nil
}

func copyFileToTar(tw *tar.Writer, name string, f bundleFile) error {
	r, err := os.Open(f.src)
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := r.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", f.src)
	}
	if err := writeTarFile(tw, name, f.exec, fi.Size(), r); err != nil {
		return fmt.Errorf("%s: %w", f.src, err)
	}
	return nil
}

func writeTarFile(tw *tar.Writer, name string, exec bool, size int64, r io.Reader) error {
	mode := int64(0o644)
	if exec {
		mode = 0o755
	}
	hdr := &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     mode,
		Size:     size,
		ModTime:  time.Unix(0, 0),
		Format:   tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// A file that changed size since it was digested fails here
	// (tar.ErrWriteTooLong, or a short copy) instead of writing a bundle
	// that does not match its manifest.
	n, err := io.Copy(tw, r)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("file changed while bundling (%d bytes, expected %d)", n, size)
	}
	return nil
}

// releasingReader reads an embedded bundle and lets the kernel drop the
// pages it has read (releasePages). It has no WriteTo, which for a
// strings.Reader would copy the whole bundle into the heap.
type releasingReader struct {
	s        string
	off      int
	released int
}

func (r *releasingReader) Read(p []byte) (int, error) {
	if r.off >= len(r.s) {
		releasePages(r.s, r.released, len(r.s))
		return 0, io.EOF
	}
	n := copy(p, r.s[r.off:])
	r.off += n
	if r.off-r.released >= 4<<20 {
		releasePages(r.s, r.released, r.off)
		r.released = r.off
	}
	return n, nil
}

// bundleReader reads a bundle sequentially. It never holds more than one
// file's buffer and the decoder's window in memory.
type bundleReader struct {
	Manifest Manifest
	zr       *zstd.Decoder
	tr       *tar.Reader
	next     *tar.Header // the next entry, read ahead; nil at the end
	partIdx  int         // index into Manifest.Parts of the next part
}

// openBundle reads the manifest from the start of r and checks it. The
// caller must Close the reader.
func openBundle(r io.Reader) (*bundleReader, error) {
	zr, err := zstd.NewReader(r,
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(64<<20),
	)
	if err != nil {
		return nil, corrupt("%v", err)
	}
	b := &bundleReader{zr: zr, tr: tar.NewReader(zr)}
	hdr, err := b.tr.Next()
	if err != nil {
		zr.Close()
		return nil, corrupt("reading manifest: %v", err)
	}
	if hdr.Name != manifestName || hdr.Typeflag != tar.TypeReg || hdr.Size > maxManifest {
		zr.Close()
		return nil, corrupt("first entry is %q, not the manifest", hdr.Name)
	}
	data, err := io.ReadAll(b.tr)
	if err != nil {
		zr.Close()
		return nil, corrupt("reading manifest: %v", err)
	}
	if err := json.Unmarshal(data, &b.Manifest); err != nil {
		zr.Close()
		return nil, corrupt("manifest: %v", err)
	}
	if b.Manifest.Format != bundleFormat {
		zr.Close()
		return nil, fmt.Errorf("%w: bundle format %d, this library reads format %d", ErrBundleFormat, b.Manifest.Format, bundleFormat)
	}
	if err := b.advance(); err != nil {
		zr.Close()
		return nil, err
	}
	return b, nil
}

// Close releases the decoder.
func (b *bundleReader) Close() { b.zr.Close() }

func (b *bundleReader) advance() error {
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

// restorePart restores the next part, which must be called name, into dir,
// which must exist and be empty. It verifies the part's digest; on a
// mismatch it returns an error and dir holds an unverified tree that the
// caller must remove. With dir == "" the part is read and verified but not
// written.
func (b *bundleReader) restorePart(name, dir string, progress func(n int64)) error {
	if b.partIdx >= len(b.Manifest.Parts) || b.Manifest.Parts[b.partIdx].Name != name {
		return corrupt("part %q is not next in the bundle", name)
	}
	want := b.Manifest.Parts[b.partIdx]
	b.partIdx++
	d := newPartDigest()
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
		local, err := localPath(rel)
		if err != nil {
			return corrupt("entry %q: %v", hdr.Name, err)
		}
		if hdr.Size > budget || d.files >= want.Files {
			return corrupt("part %q is larger than its manifest says", name)
		}
		budget -= hdr.Size
		exec := hdr.Mode&0o111 != 0
		h := sha256.New()
		var w io.Writer = h
		var f *os.File
		if dir != "" {
			dst := filepath.Join(dir, local)
			if parent := filepath.Dir(dst); parent != lastDir {
				if err := os.MkdirAll(parent, 0o755); err != nil {
					return err
				}
				lastDir = parent
			}
			mode := fs.FileMode(0o644)
			if exec {
				mode = 0o755
			}
			f, err = os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
			if errors.Is(err, fs.ErrExist) {
				return corrupt("entry %q appears twice", hdr.Name)
			}
			if err != nil {
				return err
			}
			w = io.MultiWriter(h, f)
		}
		n, err := io.CopyBuffer(w, b.tr, buf)
		if f != nil {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return err
			}
			return corrupt("entry %q: %v", hdr.Name, err)
		}
		d.add(rel, exec, h.Sum(nil), n)
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

// end checks that nothing follows the last part.
func (b *bundleReader) end() error {
	if b.next != nil {
		return corrupt("unexpected entry %q", b.next.Name)
	}
	if b.partIdx != len(b.Manifest.Parts) {
		return corrupt("bundle ends before part %q", b.Manifest.Parts[b.partIdx].Name)
	}
	return nil
}

// skipPart reads past the next part, which must be called name, without
// verifying it.
func (b *bundleReader) skipPart(name string) error {
	if b.partIdx >= len(b.Manifest.Parts) || b.Manifest.Parts[b.partIdx].Name != name {
		return corrupt("part %q is not next in the bundle", name)
	}
	b.partIdx++
	for b.next != nil && strings.HasPrefix(b.next.Name, name+"/") {
		if err := b.advance(); err != nil {
			return err
		}
	}
	return nil
}

// localPath turns a slash-separated entry name into a relative OS path,
// refusing anything that would leave the directory it is joined to.
func localPath(name string) (string, error) {
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

func corrupt(format string, args ...any) error {
	return &BundleError{Reason: fmt.Sprintf(format, args...)}
}
