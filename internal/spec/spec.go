// Package spec checks a plugin argument as a user types it, before any
// work is done: an import path with an optional @version, or a local
// folder.
package spec

import (
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// IsLocal reports whether s names a directory rather than an import path.
func IsLocal(s string) bool {
	return s == "." || s == ".." || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		filepath.IsAbs(s) || strings.HasPrefix(s, "/") ||
		(filepath.Separator == '\\' && (strings.HasPrefix(s, `.\`) || strings.HasPrefix(s, `..\`)))
}

// Split checks an argument of the form path[@version] with
// golang.org/x/mod and returns its parts, version "" when none is given.
// Its error says what is wrong without repeating s.
func Split(s string) (path, version string, err error) {
	if strings.TrimSpace(s) == "" {
		return "", "", errors.New("empty plugin name")
	}
	p, v, hasVersion := strings.Cut(s, "@")
	if err := module.CheckImportPath(p); err != nil {
		return "", "", errors.New("not a valid import path: " + PathReason(err))
	}
	if hasVersion {
		if err := checkVersion(v); err != nil {
			return "", "", err
		}
	}
	return p, v, nil
}

// PathReason returns what golang.org/x/mod/module says is wrong with a
// path, without repeating the path.
func PathReason(err error) string {
	var ipe *module.InvalidPathError
	if errors.As(err, &ipe) && ipe.Err != nil {
		return ipe.Err.Error()
	}
	return err.Error()
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// checkVersion accepts the versions the go command's queries take: a
// canonical semantic version or pseudo-version, a commit hash, or latest,
// upgrade and patch.
func checkVersion(v string) error {
	switch {
	case v == "latest", v == "upgrade", v == "patch":
		return nil
	case semver.IsValid(v) && strings.HasPrefix(v, "v"):
		if semver.Canonical(v) != v && semver.Build(v) == "" {
			return &versionError{v, "use the full semantic version, as in " + semver.Canonical(v)}
		}
		return nil
	case commitRE.MatchString(v):
		return nil
	}
	return &versionError{v, `want a semantic version such as v1.2.3, a pseudo-version, a commit hash, or "latest"`}
}

type versionError struct{ v, hint string }

func (e *versionError) Error() string { return "invalid version " + strconv.Quote(e.v) + ": " + e.hint }
