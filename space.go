package selfcompile

// spareBytes is kept free beyond what an install is known to write: the go
// command's temporary files and build cache entries.
const spareBytes = 128 << 20

// ensureSpace fails with an error matching ErrNoSpace unless the file
// system holding dir has need bytes free, plus a margin. Where free space
// cannot be read, it does not fail: the writes themselves will.
func ensureSpace(dir string, need uint64, what string) error {
	free, err := diskFree(dir)
	if err != nil || free >= need+spareBytes {
		return nil
	}
	return &spaceError{dir: dir, what: what, need: need + spareBytes, free: free}
}
