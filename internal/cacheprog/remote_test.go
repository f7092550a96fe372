package cacheprog

import (
	"io"
	"strings"
	"testing"
)

// TestAnswerReader reads an answer up to the bytes left for it, and fails
// once it goes on past them, rather than reading forever.
func TestAnswerReader(t *testing.T) {
	a := &answerReader{r: strings.NewReader("0123456789"), left: 4}
	got, err := io.ReadAll(a)
	if string(got) != "0123" || err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("read %q, %v; want the first 4 bytes and an error", got, err)
	}
	a = &answerReader{r: strings.NewReader("short"), left: 100}
	if got, err := io.ReadAll(a); string(got) != "short" || err != nil {
		t.Errorf("an answer within bounds: %q, %v", got, err)
	}
}

// TestTail keeps the end of what a cache program printed, its whitespace
// collapsed, for an error to quote.
func TestTail(t *testing.T) {
	var tl tail
	io.WriteString(&tl, "starting\n")
	io.WriteString(&tl, strings.Repeat("x", 600))
	io.WriteString(&tl, "\n\tfatal:   out of disk\n")
	s := tl.String()
	if !strings.HasSuffix(s, "x fatal: out of disk") || strings.Contains(s, "starting") || len(s) > 512 {
		t.Errorf("tail = %q (%d bytes)", s, len(s))
	}
	var empty tail
	if empty.String() != "" {
		t.Errorf("an empty tail = %q", empty.String())
	}
}
