//go:build linux

package selfcompile

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// releasePages tells the kernel that the pages of s between off and end
// will not be read again. s is the embedded bundle, mapped from the
// executable, so the pages are dropped from the resident set and read
// from the file again if ever touched: reading the whole bundle does not
// raise the installer's peak memory by the bundle's size. Where s is not
// backed by a file (a packed executable, a copy in the heap), dropping its
// pages would lose it, and nothing is done.
func releasePages(s string, off, end int) {
	if len(s) == 0 || end <= off || !fileBacked(s) {
		return
	}
	page := os.Getpagesize()
	data := unsafe.StringData(s)
	base := int(uintptr(unsafe.Pointer(data)) % uintptr(page)) // offset of s in its first page
	start := (base+off+page-1)/page*page - base                // first whole page at or after off
	stop := (base+end)/page*page - base                        // end of the last whole page before end
	if stop <= start {
		return
	}
	unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(data), start)), stop-start), unix.MADV_DONTNEED)
}

var fileBackedCache sync.Map // start address of a string -> bool

// fileBacked reports whether all of s lies in one read-only mapping of a
// file, as /proc/self/maps says.
func fileBacked(s string) bool {
	addr := uint64(uintptr(unsafe.Pointer(unsafe.StringData(s))))
	if v, ok := fileBackedCache.Load(addr); ok {
		return v.(bool)
	}
	ok := false
	if f, err := os.Open("/proc/self/maps"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			// 00400000-00452000 r--p 00000000 08:02 173521 /usr/bin/app
			fields := strings.Fields(sc.Text())
			if len(fields) < 6 {
				continue
			}
			lo, hi, _ := strings.Cut(fields[0], "-")
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			if err1 != nil || err2 != nil || addr < l || addr >= h {
				continue
			}
			ok = addr+uint64(len(s)) <= h && !strings.Contains(fields[1], "w") && fields[4] != "0"
			break
		}
		f.Close()
	}
	fileBackedCache.Store(addr, ok)
	return ok
}
