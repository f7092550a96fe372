package selfcompile

// freeSpace reports the bytes available in a directory's file system; tests
// replace it to simulate a full disk.
var freeSpace = diskFree

// spareBytes is kept free beyond what an install is known to write: the go
// command's temporary files and build cache entries.
const spareBytes = 128 << 20

// ensureSpace fails with a *SpaceError unless the file system holding dir
// has need bytes free, plus a margin. Where free space cannot be read, it
// does not fail: the writes themselves will.
func ensureSpace(dir string, need uint64, what string) error {
	free, err := freeSpace(dir)
	if err != nil || free >= need+spareBytes {
		return nil
	}
	return &SpaceError{Dir: dir, What: what, Need: need + spareBytes, Free: free}
}
