// Package catalog is the vendor's side of what users of a program may
// install: a catalog of plugins, signed as a signed note
// (golang.org/x/mod/sumdb/note, Ed25519), and a policy.
//
// A vendor generates a key pair (GenerateKey, or go-selfcompile catalog
// keygen), lists the plugins users may install with the versions allowed,
// their h1: hashes as go.sum has them and the host versions each works
// with, signs the catalog (Sign, or go-selfcompile catalog sign) with one
// key or several (to rotate keys), and publishes it at an https URL or
// ships it as a file. The program carries the verifier keys, the location
// and the policy (Config), set in its code or given to the generator, never
// taken from the user's environment; the generator can embed the catalog
// current at release time, so that an offline machine has one.
//
// Installs then resolve plugin names through the catalog, check a
// catalog plugin's hash against the catalog whatever the user's GOSUMDB,
// GONOSUMDB, GOINSECURE or GOFLAGS say, refuse what the policy forbids
// before building, and record where each plugin came from.
package catalog

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/note"

	"github.com/shazow/go-selfcompile/internal/printable"
)

// Catalog is what a vendor lets users install.
type Catalog struct {
	// Name names the catalog, as in "example.com/mytool": a program checks
	// that a catalog it reads is the one it was made for.
	Name string `json:"name"`
	// Sequence increases with every catalog the vendor publishes: a
	// machine refuses a catalog older than the newest it has verified.
	Sequence int64 `json:"sequence"`
	// Date is when the catalog was signed.
	Date time.Time `json:"date"`
	// Plugins are the plugins users may install.
	Plugins []Plugin `json:"plugins"`

	raw, text []byte // as signed, and its text: what Load compares and keeps
}

// Plugin is a plugin of a catalog.
type Plugin struct {
	// Name is the short name users install it by: "metrics".
	Name string `json:"name"`
	// Description says what it does, for plugin search and info.
	Description string `json:"description,omitempty"`
	// Tier is the vendor's word for how far it is supported, as in
	// "official" or "community".
	Tier string `json:"tier,omitempty"`
	// Kind is KindProcess for a process plugin: a main package, built as a
	// program of its own that the host starts (plugin add --process);
	// empty for a package compiled into the program.
	Kind string `json:"kind,omitempty"`
	// ImportPath is the plugin's package, and Module the module that
	// provides it.
	ImportPath string `json:"import_path"`
	Module     string `json:"module"`
	// Versions are the versions users may install.
	Versions []Version `json:"versions"`
	// Revoked are versions users must no longer run, with why.
	Revoked []Revoked `json:"revoked,omitempty"`
}

// KindProcess is the Kind of a process plugin.
const KindProcess = "process"

// Version is a version of a plugin that users may install.
type Version struct {
	// Version is the module version.
	Version string `json:"version"`
	// Sum is the h1: hash of the module's zip, as go.sum has it.
	Sum string `json:"sum"`
	// Hosts says which versions of the program it works with: comparisons
	// that must all hold, as in ">=v1.2.0 <v2.0.0"; empty for all.
	Hosts string `json:"hosts,omitempty"`
}

// Revoked is a version withdrawn, and why.
type Revoked struct {
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

var (
	// ErrNotAllowed matches every refusal of a change that the vendor's
	// catalog or policy forbids.
	ErrNotAllowed = errors.New("not allowed by the program's vendor")
	// ErrBadCatalog matches a catalog that cannot be trusted: not signed by
	// a key the program knows, tampered with, for another program, too
	// large, or older than one the machine has seen; and a program whose
	// catalog configuration (its keys, its policy) is malformed.
	ErrBadCatalog = errors.New("the vendor's catalog cannot be trusted")
)

// GenerateKey returns a new key pair for catalogs named name: the signer
// key, which the vendor keeps secret, and the verifier key, which programs
// carry. The name, as in "example.com/mytool", is the keys' name in a
// signed note, which holds no spaces, no "+" and no control characters.
func GenerateKey(name string) (signer, verifier string, err error) {
	if name == "" || strings.Contains(name, "+") || strings.IndexFunc(name, notGraphic) >= 0 || !utf8.ValidString(name) {
		return "", "", fmt.Errorf("key name %q: a signed note's key name holds no spaces, no + and no control characters, as in example.com/mytool", name)
	}
	return note.GenerateKey(rand.Reader, name)
}

// Sign checks c and returns it as a signed note, signed by each signer
// key. The note's text is the catalog as JSON.
func Sign(c *Catalog, signerKeys ...string) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	if len(signerKeys) == 0 {
		return nil, errors.New("sign: no key")
	}
	var signers []note.Signer
	for _, k := range signerKeys {
		s, err := note.NewSigner(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("sign: %w", err)
		}
		signers = append(signers, s)
	}
	var text bytes.Buffer
	enc := json.NewEncoder(&text)
	enc.SetEscapeHTML(false) // ">=" as written
	enc.SetIndent("", "  ")  // no tabs: a note holds no control characters but newlines
	if err := enc.Encode(c); err != nil {
		return nil, err
	}
	return note.Sign(&note.Note{Text: text.String()}, signers...)
}

// Open verifies a signed catalog with the verifier keys and returns it. A
// catalog signed by none of the keys, or whose text is not a valid
// catalog, is an error that matches ErrBadCatalog. Fields this version
// does not know are ignored: a vendor may add some for newer programs.
func Open(signed []byte, verifierKeys []string) (*Catalog, error) {
	vs, err := Verifiers(verifierKeys)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(signed, note.VerifierList(vs...))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCatalog, err)
	}
	c := &Catalog{}
	if err := json.Unmarshal([]byte(n.Text), c); err != nil {
		return nil, fmt.Errorf("%w: its text is not a catalog: %v", ErrBadCatalog, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCatalog, err)
	}
	c.raw, c.text = signed, []byte(n.Text)
	return c, nil
}

// Verifiers parses verifier keys, refusing a signer key: one given where a
// verifier belongs would be shipped in every program, for anyone to sign
// with. Errors do not repeat the keys.
func Verifiers(keys []string) ([]note.Verifier, error) {
	var vs []note.Verifier
	for i, k := range keys {
		k = strings.TrimSpace(k)
		if strings.HasPrefix(k, "PRIVATE+KEY+") {
			return nil, fmt.Errorf("%w: catalog key %d is a signer key, which must stay secret: give the verifier key (the .pub file)", ErrBadCatalog, i+1)
		}
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("%w: catalog key %d is not a verifier key: %v", ErrBadCatalog, i+1, err)
		}
		vs = append(vs, v)
	}
	return vs, nil
}

// check reports what makes a catalog unusable.
func (c *Catalog) check() error {
	if c.Name == "" || c.Sequence <= 0 || c.Date.IsZero() {
		return errors.New("a catalog needs a name, a sequence number above 0 and a date")
	}
	names, paths := map[string]bool{}, map[string]bool{}
	for _, p := range c.Plugins {
		switch {
		case p.Name == "" || strings.ContainsAny(p.Name, "./@") || strings.IndexFunc(p.Name, notGraphic) >= 0:
			return fmt.Errorf("plugin name %q: a short name without dots, slashes, @, spaces or control characters", p.Name)
		case names[p.Name] || paths[p.ImportPath]:
			return fmt.Errorf("plugin %q (%s) is listed twice", p.Name, p.ImportPath)
		case module.CheckImportPath(p.ImportPath) != nil || module.CheckPath(p.Module) != nil:
			return fmt.Errorf("plugin %s: import path %q or module %q is not valid", p.Name, p.ImportPath, p.Module)
		case p.ImportPath != p.Module && !strings.HasPrefix(p.ImportPath, p.Module+"/"):
			return fmt.Errorf("plugin %s: %s is not a package of the module %s", p.Name, p.ImportPath, p.Module)
		}
		names[p.Name], paths[p.ImportPath] = true, true
		versions := map[string]bool{}
		for _, v := range p.Versions {
			if err := module.Check(p.Module, v.Version); err != nil || !strings.HasPrefix(v.Sum, "h1:") || versions[v.Version] {
				return fmt.Errorf("plugin %s: version %q with sum %q: want a version of the module, listed once, and its h1: hash", p.Name, v.Version, v.Sum)
			}
			if _, err := parseHosts(v.Hosts); err != nil {
				return fmt.Errorf("plugin %s %s: %v", p.Name, v.Version, err)
			}
			versions[v.Version] = true
		}
		for _, r := range p.Revoked {
			if module.Check(p.Module, r.Version) != nil {
				return fmt.Errorf("plugin %s: revoked version %q is not a version of %s", p.Name, r.Version, p.Module)
			}
		}
	}
	return nil
}

// ByName returns the plugin called name.
func (c *Catalog) ByName(name string) (*Plugin, bool) {
	for i := range c.Plugins {
		if c.Plugins[i].Name == name {
			return &c.Plugins[i], true
		}
	}
	return nil, false
}

// ByImportPath returns the plugin whose package is path.
func (c *Catalog) ByImportPath(path string) (*Plugin, bool) {
	for i := range c.Plugins {
		if c.Plugins[i].ImportPath == path {
			return &c.Plugins[i], true
		}
	}
	return nil, false
}

// ByModule returns the plugins of the module path, for the rules that
// hold for every package of a listed module.
func (c *Catalog) ByModule(path string) []*Plugin {
	var out []*Plugin
	for i := range c.Plugins {
		if c.Plugins[i].Module == path {
			out = append(out, &c.Plugins[i])
		}
	}
	return out
}

// Search returns the plugins whose name, description or import path
// holds word, ignoring case; all of them for an empty word.
func (c *Catalog) Search(word string) []Plugin {
	w := strings.ToLower(word)
	var out []Plugin
	for _, p := range c.Plugins {
		if strings.Contains(strings.ToLower(p.Name+" "+p.Description+" "+p.ImportPath), w) {
			out = append(out, p)
		}
	}
	return out
}

// RevokedReason returns why version is revoked, if it is, as the vendor
// wrote it with control characters escaped, for messages.
func (p *Plugin) RevokedReason(version string) (string, bool) {
	for _, r := range p.Revoked {
		if r.Version == version {
			return cmp.Or(printable.String(r.Reason), "revoked"), true
		}
	}
	return "", false
}

// Allowed returns the listed version, if users may install it on a host
// of version host ("" when the host's version is unknown, which every
// version fits): listed, not revoked, and fitting the host.
func (p *Plugin) Allowed(version, host string) (Version, error) {
	if reason, ok := p.RevokedReason(version); ok {
		return Version{}, fmt.Errorf("%s %s is revoked: %s", p.Name, version, reason)
	}
	for _, v := range p.Versions {
		if v.Version != version {
			continue
		}
		if !Fits(v.Hosts, host) {
			return Version{}, fmt.Errorf("%s %s works with versions %s of the program, and this one is %s", p.Name, version, v.Hosts, host)
		}
		return v, nil
	}
	return Version{}, fmt.Errorf("the catalog does not list %s %s", p.Name, version)
}

// Newest returns the newest version users may install on a host of
// version host: the newest release, as the go command's "latest" query
// prefers one, or the newest prerelease where none is allowed.
func (p *Plugin) Newest(host string) (Version, error) {
	vs := slices.Clone(p.Versions)
	slices.SortFunc(vs, func(a, b Version) int {
		if pa, pb := semver.Prerelease(a.Version) != "", semver.Prerelease(b.Version) != ""; pa != pb {
			return cmp.Compare(btoi(pa), btoi(pb))
		}
		return semver.Compare(b.Version, a.Version)
	})
	for _, v := range vs {
		if _, err := p.Allowed(v.Version, host); err == nil {
			return v, nil
		}
	}
	return Version{}, fmt.Errorf("the catalog lists no version of %s that this version of the program (%s) may install", p.Name, cmp.Or(host, "unknown"))
}

// Fits reports whether the host version host satisfies the constraint
// hosts ("" allows every version). An unknown host version fits every
// constraint: it cannot be checked.
func Fits(hosts, host string) bool {
	cs, err := parseHosts(hosts)
	if err != nil || host == "" || !semver.IsValid(host) {
		return err == nil
	}
	for _, c := range cs {
		r := semver.Compare(host, c.version)
		ok := map[string]bool{">=": r >= 0, ">": r > 0, "<=": r <= 0, "<": r < 0, "=": r == 0}[c.op]
		if !ok {
			return false
		}
	}
	return true
}

type comparison struct{ op, version string }

// parseHosts parses a host constraint: comparisons such as ">=v1.2.0".
func parseHosts(hosts string) ([]comparison, error) {
	var out []comparison
	for _, f := range strings.Fields(hosts) {
		var c comparison
		for _, op := range []string{">=", "<=", ">", "<", "="} {
			if v, ok := strings.CutPrefix(f, op); ok {
				c = comparison{op, v}
				break
			}
		}
		if c.op == "" || !semver.IsValid(c.version) {
			return nil, fmt.Errorf("host constraint %q: want comparisons such as >=v1.2.0 <v2.0.0", hosts)
		}
		out = append(out, c)
	}
	return out, nil
}

func notGraphic(r rune) bool { return unicode.IsSpace(r) || !strconv.IsGraphic(r) }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
