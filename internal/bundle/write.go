package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Level is a compression level.
type Level int

// Compression levels. LevelBest gives the smallest bundles and takes the
// longest to write.
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

// maxWindow is the largest zstd window Write uses. A reader holds a
// window's worth of history, and the garbage collector lets the heap grow
// to twice what is live, so it trades bundle size against the installer's
// memory: the pruned linux/amd64 toolchain of go1.26 at the best level is
// 27.8 MB with 8 MB, 25.9 MB with 16 MB and 24.4 MB with 32 MB; a first
// install of go.k6.io/k6 peaks at 43.8 MB of anonymous memory with 16 MB
// and 75.6 MB with 32 MB.
const maxWindow = 16 << 20

// windowFor returns the window for total raw bytes: no larger than the data
// needs, so that a small bundle costs its reader little memory.
func windowFor(total int64) int {
	w := 1 << 20
	for w < maxWindow && int64(w) < total {
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

// digest accumulates the digest of one part: a line per file with the
// sha256 of its content, "x" or "-" for its executable bit, and its name.
type digest struct {
	h     hash.Hash
	files int
	size  int64
}

func newDigest() *digest { return &digest{h: sha256.New()} }

func (d *digest) add(name string, exec bool, sum []byte, size int64) {
	mode := "-"
	if exec {
		mode = "x"
	}
	fmt.Fprintf(d.h, "%x %s %s\n", sum, mode, name)
	d.files++
	d.size += size
}

func (d *digest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// Write writes m and parts to w as a bundle of m.Kind and fills in each
// part's digest, file count and sizes in m. The output depends only on the
// files' names, contents and executable bits, so the same inputs give the
// same bytes.
func Write(w io.Writer, m *Manifest, parts []PartFiles, level Level) error {
	m.Format = Format
	m.Parts = m.Parts[:0]
	for _, p := range parts {
		part, err := DigestPart(p)
		if err != nil {
			return err
		}
		m.Parts = append(m.Parts, part)
	}
	manifest, err := json.MarshalIndent(m, "", "\t")
	if err != nil {
		return err
	}
	hw := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(w, hw)}
	// The manifest is a zstd frame of its own, with a small window, so that
	// reading it (Locate, ReadManifest, inspect) costs a reader little
	// memory. The tar stream goes on in the second frame.
	sw := &switchWriter{}
	tw := tar.NewWriter(sw)
	zm, err := zstd.NewWriter(cw, level.encoderOptions(windowFor(int64(len(manifest))))...)
	if err != nil {
		return err
	}
	sw.w = zm
	if err := writeEntry(tw, "manifest.json", false, int64(len(manifest)), strings.NewReader(string(manifest)), ""); err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := zm.Close(); err != nil {
		return err
	}
	zw, err := zstd.NewWriter(cw, level.encoderOptions(windowFor(m.Size()))...)
	if err != nil {
		return err
	}
	sw.w = zw
	for i, p := range parts {
		start := cw.n
		for _, f := range p.Files {
			if err := copyToTar(tw, p.Name+"/"+f.Name, f, m.x86(f)); err != nil {
				return err
			}
		}
		// Flushing at each part's end makes Compressed exact.
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
	_, err = w.Write(trailer(hw.Sum(nil), cw.n))
	return err
}

// DigestPart returns the part that files p make, as Write stores it:
// its files, size and digest, hashed on every core.
func DigestPart(p PartFiles) (Part, error) {
	type result struct {
		sum  []byte
		size int64
		err  error
	}
	results := make([]result, len(p.Files))
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				sum, size, err := HashFile(p.Files[i].Src)
				results[i] = result{sum, size, err}
			}
		})
	}
	for i := range p.Files {
		next <- i
	}
	close(next)
	wg.Wait()
	d := newDigest()
	for i, f := range p.Files {
		if results[i].err != nil {
			return Part{}, results[i].err
		}
		d.add(f.Name, f.Exec, results[i].sum, results[i].size)
	}
	return Part{Name: p.Name, Files: d.files, Size: d.size, Digest: d.sum()}, nil
}

// HashFile returns the sha256 and size of the file at p.
func HashFile(p string) ([]byte, int64, error) {
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

// switchWriter writes to w, which Write's caller may change between
// writes: one tar stream across two zstd frames.
type switchWriter struct{ w io.Writer }

func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

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

// x86 reports whether f is stored through the x86 branch filter: a
// program of an amd64 or 386 toolchain.
func (m *Manifest) x86(f File) bool {
	return m.Kind == Toolchain && f.Exec && (m.GOARCH == "amd64" || m.GOARCH == "386")
}

// copyToTar stores the file f as the entry name, through the x86 branch
// filter if x86.
func copyToTar(tw *tar.Writer, name string, f File, x86 bool) error {
	if x86 {
		data, err := os.ReadFile(f.Src)
		if err != nil {
			return err
		}
		x86Encode(data)
		if err := writeEntry(tw, name, f.Exec, int64(len(data)), bytes.NewReader(data), filterX86); err != nil {
			return fmt.Errorf("%s: %w", f.Src, err)
		}
		return nil
	}
	r, err := os.Open(f.Src)
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := r.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", f.Src)
	}
	if err := writeEntry(tw, name, f.Exec, fi.Size(), r, ""); err != nil {
		return fmt.Errorf("%s: %w", f.Src, err)
	}
	return nil
}

// writeEntry writes one file with a fixed header: mode 0644 or 0755, time
// zero, PAX format, and the filter its content went through ("" for none).
func writeEntry(tw *tar.Writer, name string, exec bool, size int64, r io.Reader, filter string) error {
	mode := int64(0o644)
	if exec {
		mode = 0o755
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: size, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
	if filter != "" {
		hdr.PAXRecords = map[string]string{filterKey: filter}
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	// A file that changed size since it was digested fails here instead
	// of giving a bundle that does not match its manifest.
	n, err := io.Copy(tw, r)
	if err != nil {
		return err
	}
	if n != size {
		return fmt.Errorf("file changed while bundling (%d bytes, expected %d)", n, size)
	}
	return nil
}
