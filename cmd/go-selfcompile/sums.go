package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/shazow/go-selfcompile/catalog"
)

// downloaded is what go mod download -json says of one module version.
type downloaded struct {
	Path, Version, Sum, Error string
}

// checkSums checks every version's h1: hash in c against the one the go
// command computes for the module's files, fetched through the vendor's
// GOPROXY into the module cache (only from the module cache when offline):
// a wrong hash would otherwise show only on users' machines, as a refusal
// that a new catalog sequence must mend. What cannot be fetched is named.
func checkSums(ctx context.Context, c *catalog.Catalog, offline bool, stderr io.Writer) error {
	var want []string
	sums := map[string]string{}
	for _, p := range c.Plugins {
		for _, v := range p.Versions {
			mv := p.Module + "@" + v.Version
			want = append(want, mv)
			sums[mv] = v.Sum
		}
	}
	if len(want) == 0 {
		return nil
	}
	got, err := download(ctx, want, offline)
	if err != nil {
		return err
	}
	var problems, unchecked []string
	for _, d := range got {
		mv := d.Path + "@" + d.Version
		switch {
		case d.Error != "" && offline:
			unchecked = append(unchecked, mv)
		case d.Error != "":
			problems = append(problems, fmt.Sprintf("%s: %s", mv, d.Error))
		case d.Sum != sums[mv]:
			problems = append(problems, fmt.Sprintf("%s: the catalog says %s, its files hash to %s", mv, sums[mv], d.Sum))
		}
	}
	if len(unchecked) > 0 {
		fmt.Fprintf(stderr, "Not checked (offline, and not in the module cache): %s\n", strings.Join(unchecked, ", "))
	}
	if len(problems) > 0 {
		return fmt.Errorf("the catalog's hashes do not match the modules' files (fix the catalog, or sign with --offline to check only what the module cache has):\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

// download runs go mod download -json for the module versions mvs,
// outside any module, and returns what it says of each.
func download(ctx context.Context, mvs []string, offline bool) ([]downloaded, error) {
	dir, err := os.MkdirTemp("", "go-selfcompile-sums-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	cmd := exec.CommandContext(ctx, "go", append([]string{"mod", "download", "-json"}, mvs...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if offline {
		cmd.Env = append(cmd.Env, "GOPROXY=off")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var got []downloaded
	for dec := json.NewDecoder(&stdout); ; {
		var d downloaded
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("reading go mod download's answer: %w", err)
		}
		got = append(got, d)
	}
	if len(got) == 0 && runErr != nil {
		return nil, fmt.Errorf("go mod download: %v\n%s", runErr, stderr.String())
	}
	return got, nil
}
