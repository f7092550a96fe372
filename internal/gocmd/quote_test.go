package gocmd

import "testing"

func TestSplitQuote(t *testing.T) {
	q, _ := Quote("/a b/it's")
	f, err := SplitQuoted(`/bin/sh -c 'exec "$0" 3>&1' ` + q)
	if err != nil || len(f) != 4 || f[2] != `exec "$0" 3>&1` || f[3] != "/a b/it's" {
		t.Errorf("split: %q, %v", f, err)
	}
	if _, ok := Quote(`'"`); ok {
		t.Error("a path with both quotes was quoted")
	}
}
