package printable

import "testing"

// Terminal escapes (an OSC title change, a colour), line breaks, a
// bidirectional override and bytes that are not UTF-8 come out as
// visible escapes; other text, whatever its script, as it is.
func TestString(t *testing.T) {
	for in, want := range map[string]string{
		"Prometheus metrics":                   "Prometheus metrics",
		"métriques, 指標 – ok":                   "métriques, 指標 – ok",
		"\x1b]0;pwned\x07title":                `\x1b]0;pwned\atitle`,
		"\x1b[31mred\x1b[0m":                   `\x1b[31mred\x1b[0m`,
		"two\nlines\r":                         `two\nlines\r`,
		"abc\u202edef":                         `abc\u202edef`,
		"bad \xff byte, and a real \uFFFD":     `bad \xff byte, and a real ` + "\uFFFD",
		"\x9b31m (a C1 CSI, as UTF-8: \u009b)": `\x9b31m (a C1 CSI, as UTF-8: \u009b)`,
	} {
		if got := String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}
