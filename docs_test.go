package selfcompile_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// Every relative link of README.md, the other Markdown files beside it and
// docs/*.md names a file or directory of this repository, and its
// #fragment, if any, a heading of that file.
func TestDocLinks(t *testing.T) {
	pages, _ := filepath.Glob(filepath.Join("docs", "*.md"))
	root, _ := filepath.Glob("*.md")
	if len(pages) == 0 || !slices.Contains(root, "README.md") {
		t.Fatalf("no README.md, or no pages in docs/: %q %q", root, pages)
	}
	pages = append(pages, root...)
	links := 0
	for _, page := range pages {
		for _, link := range relativeLinks(t, page) {
			links++
			file, fragment, _ := strings.Cut(link, "#")
			target := page
			if file != "" {
				target = filepath.Join(filepath.Dir(page), filepath.FromSlash(file))
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s: link %s: %v", page, link, err)
					continue
				}
			}
			if fragment != "" && !headingAnchors(t, target)[fragment] {
				t.Errorf("%s: link %s: no heading of %s has the anchor #%s", page, link, target, fragment)
			}
		}
	}
	if links == 0 {
		t.Fatal("no relative links found: the parser is broken")
	}
}

// markdownLink matches an inline link's target, [text](target).
var markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// relativeLinks returns the targets of the inline links of the Markdown
// file at page, outside code, that are not absolute URLs.
func relativeLinks(t *testing.T, page string) []string {
	t.Helper()
	var links []string
	for _, line := range proseLines(t, page) {
		for _, m := range markdownLink.FindAllStringSubmatch(withoutCodeSpans(line), -1) {
			if !strings.Contains(m[1], "://") && !strings.HasPrefix(m[1], "mailto:") {
				links = append(links, m[1])
			}
		}
	}
	return links
}

// headingAnchors returns the anchors GitHub gives the headings of the
// Markdown file at page.
func headingAnchors(t *testing.T, page string) map[string]bool {
	t.Helper()
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range proseLines(t, page) {
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if !ok || !strings.HasPrefix(line, "#") {
			continue
		}
		a := anchor(title)
		if n := seen[a]; n > 0 {
			anchors[a+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[a] = true
		}
		seen[a]++
	}
	return anchors
}

// anchor is GitHub's anchor of a heading: lower case, spaces as hyphens,
// and no punctuation but hyphens and underscores.
func anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(title)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// proseLines returns the lines of the Markdown file at page outside fenced
// code blocks.
func proseLines(t *testing.T, page string) []string {
	t.Helper()
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	fenced := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if !fenced {
			lines = append(lines, line)
		}
	}
	return lines
}

// withoutCodeSpans returns line without its `code spans`.
func withoutCodeSpans(line string) string {
	parts := strings.Split(line, "`")
	var b strings.Builder
	for i := 0; i < len(parts); i += 2 {
		b.WriteString(parts[i])
	}
	return b.String()
}
