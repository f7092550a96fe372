//go:build linux || darwin

package swap

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"runtime"

	"golang.org/x/sys/unix"
)

// copyXattrs gives dst the extended attributes of src: file capabilities
// (security.capability, as setcap sets them), SELinux labels, user.*
// attributes. Those that cannot be set are named in the error; those
// that keepXattr leaves out are not copied.
func copyXattrs(dst, src string) error {
	names, err := listXattrs(src)
	if err != nil {
		return nil // no extended attributes here (or none readable): nothing to keep
	}
	var lost []string
	for _, name := range names {
		if !keepXattr(runtime.GOOS, name) {
			continue
		}
		val, err := getXattr(src, name)
		if err == nil {
			err = unix.Setxattr(dst, name, val, 0)
		}
		if err != nil {
			if have, herr := getXattr(dst, name); herr == nil && bytes.Equal(have, val) {
				continue // the new file has it already, as a label from its directory
			}
			lost = append(lost, fmt.Sprintf("%s (%v)", name, err))
		}
	}
	if len(lost) > 0 {
		return fmt.Errorf("%w: the new binary would lose the extended attributes %v: rerun as root", fs.ErrPermission, lost)
	}
	return nil
}

func listXattrs(path string) ([]string, error) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.Listxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if err != nil {
			return nil, err
		}
		var names []string
		for _, name := range bytes.Split(buf[:n], []byte{0}) {
			if len(name) > 0 {
				names = append(names, string(name))
			}
		}
		return names, nil
	}
}

func getXattr(path, name string) ([]byte, error) {
	buf := make([]byte, 4096)
	for {
		n, err := unix.Getxattr(path, name, buf)
		if errors.Is(err, unix.ERANGE) {
			buf = make([]byte, 2*len(buf))
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// removeCapabilities removes the file capabilities of path (Linux's
// security.capability), if it has any.
func removeCapabilities(path string) error {
	const name = "security.capability"
	if _, err := getXattr(path, name); err != nil {
		return nil // none (or none readable, as none can be set)
	}
	return unix.Removexattr(path, name)
}
