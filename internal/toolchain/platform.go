package toolchain

import (
	"bufio"
	"go/build/constraint"
	"os"
	"path"
	"strconv"
	"strings"
)

// knownOS and knownArch are the GOOS and GOARCH values that the go command
// recognizes in file names and build constraints (go/build's lists). A
// name missing here only keeps a file that could have been left out.
var (
	knownOS   = set("aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos")
	knownArch = set("386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm")
	unixOS    = set("aix android darwin dragonfly freebsd hurd illumos ios linux netbsd openbsd solaris")
)

func set(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

// platform is a GOOS/GOARCH that a toolchain of the Go version go1.minor
// builds for (minor -1 for a version that is not a release's).
type platform struct {
	goos, goarch string
	minor        int
}

// goMinor returns the N of a Go version goN.M[.P] (go1.26.8 is 26), or -1
// for another version string (a development toolchain's).
func goMinor(version string) int {
	rest, ok := strings.CutPrefix(version, "go1.")
	if !ok {
		return -1
	}
	rest, _, _ = strings.Cut(rest, ".")
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// tag reports the value of a platform tag for p, or of a Go release tag
// (go1.N, which the toolchain of go1.minor sets for every N up to minor),
// and false for ok when the tag is not about the platform (cgo, purego,
// ...): a build may set it either way.
func (p platform) tag(name string) (value, ok bool) {
	if n := goMinor(name); n >= 0 && p.minor >= 0 && name == "go1."+strconv.Itoa(n) {
		return n <= p.minor, true
	}
	switch {
	case name == "unix":
		return unixOS[p.goos], true
	case knownOS[name]:
		return name == p.goos || name == "linux" && p.goos == "android" ||
			name == "darwin" && p.goos == "ios" || name == "solaris" && p.goos == "illumos", true
	case knownArch[name]:
		return name == p.goarch, true
	}
	return false, false
}

// never reports whether the standard library file at file (a GOROOT
// path) is left out of every build for p, whatever the build's tags and
// cgo setting: a Go, assembly or syso file whose name ends in another
// GOOS or GOARCH, as go/build reads file names, or a Go or assembly file
// whose //go:build line p's GOOS, GOARCH and Go release tags make false
// (such as the tables of the Unicode versions of older Go releases in
// src/vendor). Other files, and
// files it cannot read, are kept.
func (p platform) never(file string) bool {
	name := path.Base(file)
	ext := path.Ext(name)
	if ext != ".go" && ext != ".s" && ext != ".syso" {
		return false
	}
	if !p.nameMatches(name) {
		return true
	}
	if ext == ".syso" {
		return false
	}
	expr := buildLine(file)
	return expr != nil && !p.possible(expr)
}

// nameMatches is go/build's rule for a file name's _GOOS, _GOARCH and
// _GOOS_GOARCH suffixes (before _test).
func (p platform) nameMatches(name string) bool {
	name, _, _ = strings.Cut(name, ".")
	i := strings.Index(name, "_")
	if i < 0 {
		return true
	}
	l := strings.Split(name[i:], "_")
	if n := len(l); n > 0 && l[n-1] == "test" {
		l = l[:n-1]
	}
	n := len(l)
	if n >= 2 && knownOS[l[n-2]] && knownArch[l[n-1]] {
		os, _ := p.tag(l[n-2])
		arch, _ := p.tag(l[n-1])
		return os && arch
	}
	if n >= 1 && (knownOS[l[n-1]] || knownArch[l[n-1]]) {
		v, _ := p.tag(l[n-1])
		return v
	}
	return true
}

// maxFreeTags bounds the tags, other than the platform's, that possible
// tries both ways; an expression with more is taken as possible.
const maxFreeTags = 10

// possible reports whether some setting of the tags that are not about
// the platform makes expr true on p.
func (p platform) possible(expr constraint.Expr) bool {
	var free []string
	seen := map[string]bool{}
	expr.Eval(func(tag string) bool {
		if _, ok := p.tag(tag); !ok && !seen[tag] {
			seen[tag] = true
			free = append(free, tag)
		}
		return false
	})
	if len(free) > maxFreeTags {
		return true
	}
	for bits := 0; bits < 1<<len(free); bits++ {
		ok := expr.Eval(func(tag string) bool {
			if v, ok := p.tag(tag); ok {
				return v
			}
			for i, f := range free {
				if f == tag {
					return bits&(1<<i) != 0
				}
			}
			return false
		})
		if ok {
			return true
		}
	}
	return false
}

// buildLine returns the //go:build constraint of a Go or assembly file:
// a line of the comments and blank lines before its first other line. It
// returns nil for a file without one, or that it cannot read.
func buildLine(file string) constraint.Expr {
	f, err := os.Open(file)
	if err != nil {
		return nil
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line != "" && !strings.HasPrefix(line, "//") {
			return nil
		}
		if constraint.IsGoBuild(line) {
			expr, err := constraint.Parse(line)
			if err != nil {
				return nil
			}
			return expr
		}
	}
	return nil
}
