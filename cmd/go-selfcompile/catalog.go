package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"golang.org/x/mod/sumdb/note"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/printable"
)

// vendorOptions are the generator's flags for the vendor's catalog.
type vendorOptions struct {
	file, url, name, policy string
	keys, prefixes          []string
	userMayAllow            bool
	maxAge                  time.Duration
}

func vendorFlags(fs *pflag.FlagSet) *vendorOptions {
	v := &vendorOptions{}
	fs.StringVar(&v.file, "catalog", "", "a signed catalog `FILE` to embed, for machines that cannot fetch one")
	fs.StringArrayVar(&v.keys, "catalog-key", nil, "a verifier `KEY` of the vendor (or a file holding one); repeat to rotate keys")
	fs.StringVar(&v.url, "catalog-url", "", "where installs fetch the newest catalog: an https `URL` or a file")
	fs.StringVar(&v.name, "catalog-name", "", "the catalog's `NAME` (default: the embedded catalog's)")
	fs.StringVar(&v.policy, "policy", "", "what users may install: anything (default), catalog, or catalog+local")
	fs.StringArrayVar(&v.prefixes, "policy-prefix", nil, "a module path `PREFIX` users may install from though the catalog does not list it")
	fs.BoolVar(&v.userMayAllow, "user-may-allow-unlisted", false, "let users install unlisted plugins by asking (plugin add --allow-unlisted)")
	fs.DurationVar(&v.maxAge, "catalog-max-age", 0, "how old a catalog may get before installs and plugin check report it")
	return v
}

// config returns the catalog configuration the flags give, relative
// paths taken from the main package's directory dir; nil for none.
func (v *vendorOptions) config(dir string) (*catalog.Config, error) {
	if len(v.keys) == 0 {
		if v.file != "" || v.url != "" || v.policy != "" || len(v.prefixes) > 0 || v.userMayAllow || v.maxAge != 0 {
			return nil, errors.New("the catalog flags need the vendor's verifier key: --catalog-key")
		}
		return nil, nil
	}
	allow, err := catalog.ParseAllow(v.policy)
	if err != nil {
		return nil, err
	}
	cfg := &catalog.Config{Name: v.name, URL: v.url, Policy: catalog.Policy{Allow: allow, Prefixes: v.prefixes, UserMayAllowUnlisted: v.userMayAllow, MaxAge: v.maxAge}}
	for _, k := range v.keys {
		key, err := keyArg(dir, k)
		if err != nil {
			return nil, err
		}
		cfg.Keys = append(cfg.Keys, key)
	}
	if v.file != "" {
		if cfg.Embedded, err = os.ReadFile(inDir(dir, v.file)); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// keyArg returns a key read from the file arg names, or given as arg.
func keyArg(dir, arg string) (string, error) {
	if data, err := os.ReadFile(inDir(dir, arg)); err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	if strings.Count(arg, "+") < 2 {
		return "", fmt.Errorf("key %q: neither a key nor a file that holds one", arg)
	}
	return arg, nil
}

func inDir(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// runCatalog runs the vendor's catalog commands.
func runCatalog(args []string, stdout, stderr io.Writer) error {
	usage := errors.New("usage: go-selfcompile catalog keygen NAME PREFIX | sign --key FILE... CATALOG.json | verify --key KEY... CATALOG")
	if len(args) == 0 {
		return usage
	}
	fs := pflag.NewFlagSet("go-selfcompile catalog "+args[0], pflag.ContinueOnError)
	fs.SetOutput(stderr)
	keys := fs.StringArray("key", nil, "a signer key file (sign) or a verifier key or its file (verify); repeat for several")
	out := fs.StringP("output", "o", "", "write the signed catalog to `FILE` (sign; default: standard output)")
	offline := fs.Bool("offline", false, "check the catalog's hashes only against the module cache (sign)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "keygen":
		if fs.NArg() != 2 {
			return usage
		}
		return keygen(fs.Arg(0), fs.Arg(1), stdout)
	case "sign":
		if fs.NArg() != 1 || len(*keys) == 0 {
			return usage
		}
		return sign(fs.Arg(0), *keys, *out, signOptions{offline: *offline, stdout: stdout, stderr: stderr})
	case "verify":
		if fs.NArg() != 1 || len(*keys) == 0 {
			return usage
		}
		return verify(fs.Arg(0), *keys, stdout)
	}
	return usage
}

// keygen writes a new key pair: PREFIX.key (the signer key, secret) and
// PREFIX.pub (the verifier key, which programs carry). It never writes
// over a file, and leaves neither file when it cannot write both.
func keygen(name, prefix string, stdout io.Writer) error {
	signer, verifier, err := catalog.GenerateKey(name)
	if err != nil {
		return err
	}
	files := []struct {
		name, content string
		mode          os.FileMode
	}{{prefix + ".key", signer, 0o600}, {prefix + ".pub", verifier, 0o644}}
	for i, f := range files {
		if err := writeNew(f.name, f.content+"\n", f.mode); err != nil {
			if i > 0 {
				os.Remove(files[0].name)
			}
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s.key (keep it secret) and %s.pub: %s\n", prefix, prefix, verifier)
	return nil
}

// writeNew writes a file that must not exist yet.
func writeNew(name, content string, mode os.FileMode) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode) // never over a key
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

// signOptions are how sign checks and where it writes.
type signOptions struct {
	offline        bool // check hashes against the module cache only
	stdout, stderr io.Writer
}

// sign signs a catalog written as JSON, dated now unless it has a date,
// after checking every version's hash against the module's files.
func sign(file string, keyFiles []string, out string, o signOptions) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var c catalog.Catalog
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if c.Date.IsZero() {
		c.Date = time.Now().UTC().Truncate(time.Second)
	}
	if err := checkSums(context.Background(), &c, o.offline, o.stderr); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	var signers []string
	for _, k := range keyFiles {
		key, err := os.ReadFile(k)
		if err != nil {
			return err
		}
		signers = append(signers, string(key))
	}
	signed, err := catalog.Sign(&c, signers...)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = o.stdout.Write(signed)
		return err
	}
	if err := checkOverwrite(out, c.Name); err != nil {
		return err
	}
	// Atomically: a vendor must never publish half a catalog.
	return fsutil.WriteAtomic(out, 0o644, func(w io.Writer) error { _, err := w.Write(signed); return err })
}

// checkOverwrite refuses to sign into out if it is a file other than a
// signed catalog named name, the one a new version replaces: a key file
// given by mistake, the catalog's JSON, anything else.
func checkOverwrite(out, name string) error {
	fi, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var old string
	if fi.Mode().IsRegular() && fi.Size() < 16<<20 {
		data, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		var unverified *note.UnverifiedNoteError
		if _, err := note.Open(data, note.VerifierList()); errors.As(err, &unverified) {
			var c catalog.Catalog
			if json.Unmarshal([]byte(unverified.Note.Text), &c) == nil && c.Name == name {
				return nil
			}
			old = fmt.Sprintf(" (a signed note, not a catalog named %q)", name)
		}
	}
	return fmt.Errorf("-o %s: not writing over a file that is not a signed catalog of %q%s, which could be a signing key: remove it first, or choose another file", out, name, old)
}

// verify checks a signed catalog and prints what it lists, with what the
// vendor wrote escaped (package printable).
func verify(file string, keys []string, stdout io.Writer) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var vs []string
	for _, k := range keys {
		key, err := keyArg(".", k)
		if err != nil {
			return err
		}
		vs = append(vs, key)
	}
	c, err := catalog.Open(data, vs)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: catalog %s, sequence %d, signed %s, %d plugins\n", printable.String(file), printable.String(c.Name), c.Sequence, c.Date.Format(time.RFC3339), len(c.Plugins))
	for _, p := range c.Plugins {
		fmt.Fprintf(stdout, "  %-16s %s (%d versions, %d revoked)\n", printable.String(p.Name), p.ImportPath, len(p.Versions), len(p.Revoked))
	}
	return nil
}
