package selfcompile

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRestoreToolchain restores the example's bundle into an empty
// cache: the cold restore of an install's first run. It needs
// example/abinary/selfcompile.bundle (make generate).
func BenchmarkRestoreToolchain(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("example", "abinary", BundleFile))
	if err != nil {
		b.Skip("no example bundle: run make generate")
	}
	c := &SelfCompile{Logger: log.New(io.Discard, "", 0)}
	b.SetBytes(int64(len(data)))
	// Under build/, not the system temporary directory: on these machines
	// creating a file in /tmp costs about 25 times what it does elsewhere
	// on the same disk (see BENCHMARKS.md), and a user's cache is in HOME.
	base, err := os.MkdirTemp(benchDir(b), "restore-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(base)
	for i := 0; b.Loop(); i++ {
		cache, work := filepath.Join(base, fmt.Sprint("cache", i)), filepath.Join(base, fmt.Sprint("work", i))
		os.MkdirAll(cache, 0o700)
		os.MkdirAll(work, 0o700)
		if _, err := c.restore(context.Background(), string(data), work, cache); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDir returns the directory benchmarks work in: build/bench under the
// repository, or $SELFCOMPILE_BENCH_DIR.
func benchDir(b *testing.B) string {
	dir := os.Getenv("SELFCOMPILE_BENCH_DIR")
	if dir == "" {
		wd, _ := os.Getwd()
		dir = filepath.Join(wd, "build", "bench")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	return dir
}
