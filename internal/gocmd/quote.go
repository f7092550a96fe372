package gocmd

import (
	"fmt"
	"strings"
)

// Quote quotes s as one field of a go command setting that holds a
// command line (GOCACHEPROG, -toolexec), which the go command splits at
// spaces, taking a field in single or double quotes as it is. ok is false
// for a string with both kinds of quote, which cannot be said.
func Quote(s string) (quoted string, ok bool) {
	switch {
	case !strings.Contains(s, "'"):
		return "'" + s + "'", true
	case !strings.Contains(s, `"`):
		return `"` + s + `"`, true
	}
	return "", false
}

// SplitQuoted splits such a setting as the go command does
// (cmd/internal/quoted.Split): at spaces, a field in quotes taken as it is.
func SplitQuoted(s string) ([]string, error) {
	var f []string
	for s = strings.TrimLeft(s, " \t\n\r"); s != ""; s = strings.TrimLeft(s, " \t\n\r") {
		if q := s[0]; q == '"' || q == '\'' {
			i := strings.IndexByte(s[1:], q)
			if i < 0 {
				return nil, fmt.Errorf("unterminated %c string", q)
			}
			f = append(f, s[1:1+i])
			s = s[i+2:]
			continue
		}
		i := strings.IndexAny(s, " \t\n\r")
		if i < 0 {
			i = len(s)
		}
		f = append(f, s[:i])
		s = s[i:]
	}
	return f, nil
}
