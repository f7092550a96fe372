//go:build unix

package known

import (
	"os"

	"golang.org/x/sys/unix"
)

// Of returns the identity of the open file f; the zero ID if it cannot be
// had.
func Of(f *os.File) ID {
	var st unix.Stat_t
	rc, err := f.SyscallConn()
	if err == nil {
		rc.Control(func(fd uintptr) { err = unix.Fstat(int(fd), &st) })
	}
	if err != nil {
		return ID{}
	}
	return fromStat(&st)
}

// OfPath returns the identity of the file at path, without following a
// final symlink; the zero ID if it cannot be had.
func OfPath(path string) ID {
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return ID{}
	}
	return fromStat(&st)
}

func fromStat(st *unix.Stat_t) ID {
	return ID{Dev: uint64(st.Dev), Ino: uint64(st.Ino), Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
}
