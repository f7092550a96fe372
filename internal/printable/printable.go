// Package printable makes text that others wrote safe to print on a
// terminal: a vendor's catalog, a server's answer.
package printable

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// String returns s with every rune that is not graphic (control
// characters such as ESC, newlines, bidirectional overrides) and every
// byte that is not UTF-8 escaped as Go writes them in a string literal
// (\x1b, \n, \u202e), so that printing it can neither move the cursor,
// change colours or a window's title, nor fake a line of output. Text
// with nothing to escape is returned as it is.
func String(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !strconv.IsGraphic(r) }) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], string(utf8.RuneError)):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case strconv.IsGraphic(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToGraphic(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}
