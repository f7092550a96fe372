package catalog

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// Config is what a program carries of its vendor's catalog: set in its
// code (selfcompile.SelfCompile.Vendor) or given to the generator
// (go-selfcompile --catalog-key ...), never taken from the user's
// environment.
type Config struct {
	// Name is the catalog's name (Catalog.Name): a catalog of another
	// name is refused.
	Name string `json:"name"`
	// Keys are the verifier keys of the vendor (as GenerateKey returns
	// them): a catalog must be signed by one of them. Several keys let a
	// vendor rotate: sign with the old key and the new one until every
	// program carries the new one.
	Keys []string `json:"keys"`
	// URL is where the newest catalog is: an https URL, or a file (a
	// path, or a file:// URL). Installs that may use the network fetch it;
	// "" means the embedded catalog is all there is.
	URL string `json:"url,omitempty"`
	// Embedded is a signed catalog that the program carries, for machines
	// that cannot fetch one: the generator embeds the one current at
	// release time (--catalog).
	Embedded []byte `json:"embedded,omitempty"`
	// Policy says what users may install.
	Policy Policy `json:"policy"`
	// Client fetches the catalog from an https URL; nil means
	// http.DefaultClient (which honours HTTPS_PROXY).
	Client *http.Client `json:"-"`
}

// Allow says which plugins a policy lets users install.
type Allow string

// The kinds of policy.
const (
	// AllowAnything lets users install any plugin: any module version
	// and any local folder, as without a catalog. It is the default.
	AllowAnything Allow = ""
	// AllowCatalog lets users install only the plugins the catalog
	// lists, at the versions it lists.
	AllowCatalog Allow = "catalog"
	// AllowCatalogAndLocal lets users install the plugins the catalog
	// lists, and plugins from local folders.
	AllowCatalogAndLocal Allow = "catalog+local"
)

// Policy is what a vendor lets users install, beyond the catalog's
// checks, which hold under every policy: a plugin the catalog lists must
// be at a version it lists, not revoked, fitting the host, with the hash
// it lists.
type Policy struct {
	// Allow is the kind of policy.
	Allow Allow `json:"allow,omitempty"`
	// Prefixes are module path patterns whose modules users may install
	// though the catalog does not list them, as GOPRIVATE matches them:
	// "github.com/myorg" or "github.com/myorg/*" for every module under it.
	Prefixes []string `json:"prefixes,omitempty"`
	// UserMayAllowUnlisted lets a user install what the catalog does not
	// list by asking for it (plugin add --allow-unlisted); otherwise that
	// flag is refused.
	UserMayAllowUnlisted bool `json:"user_may_allow_unlisted,omitempty"`
	// MaxAge, if set, is how old a catalog may be before installs say it
	// is out of date and plugin check fails: a sign that the catalog's
	// updates no longer reach the machine (a freeze).
	MaxAge time.Duration `json:"max_age,omitempty"`
}

// ParseAllow parses the name of a kind of policy: "anything", "catalog"
// or "catalog+local".
func ParseAllow(s string) (Allow, error) {
	switch a := Allow(s); a {
	case "anything", "":
		return AllowAnything, nil
	case AllowCatalog, AllowCatalogAndLocal:
		return a, nil
	}
	return "", fmt.Errorf("policy %q: want anything, catalog or catalog+local", s)
}

// Unlisted is a plugin the catalog does not list, as a policy sees it.
type Unlisted struct {
	Spec   string // as the user named it
	Module string // its module, "" for a local folder
	Local  bool   // from a local folder
}

// Permit returns nil if the policy lets a user install u, a plugin the
// catalog does not list, asking for unlisted plugins or not; else a
// *RefusedError naming the rule.
func (p Policy) Permit(u Unlisted, allowUnlisted bool) error {
	refuse := func(rule, reason string) error { return &RefusedError{Plugin: u.Spec, Rule: rule, Reason: reason} }
	switch {
	case p.Allow == AllowAnything:
		return nil
	case allowUnlisted && !p.UserMayAllowUnlisted:
		return refuse("--allow-unlisted", "the vendor's policy does not let users install plugins the catalog does not list")
	case allowUnlisted:
		return nil
	case !u.Local && module.MatchPrefixPatterns(strings.Join(p.Prefixes, ","), u.Module):
		return nil
	case u.Local && p.Allow == AllowCatalogAndLocal:
		return nil
	case u.Local:
		return refuse(string(p.Allow), "the vendor's policy allows only the plugins its catalog lists, not local folders")
	}
	return refuse(string(p.Allow), "the catalog does not list "+u.Module+", and the vendor's policy allows only what it lists"+prefixNote(p.Prefixes))
}

// Check reports what makes a policy unusable: a kind it does not know.
func (p Policy) Check() error {
	_, err := ParseAllow(string(p.Allow))
	return err
}

func prefixNote(prefixes []string) string {
	if len(prefixes) == 0 {
		return ""
	}
	return " and modules under " + strings.Join(prefixes, ", ")
}

// RefusedError is a change that the vendor's catalog or policy forbids.
// It matches ErrNotAllowed.
type RefusedError struct {
	// Plugin is the plugin as the user named it.
	Plugin string
	// Rule names what refused it: the policy ("catalog",
	// "catalog+local"), "--allow-unlisted", "catalog version" (a version
	// the catalog does not allow: unlisted, revoked, for other hosts, or
	// replaced), "catalog hash" (files that are not those the catalog
	// lists) or "catalog module" (a package the catalog lists, provided
	// by another module than the one it lists).
	Rule string
	// Reason says why, and what to do.
	Reason string
}

// Error names the plugin, the rule and the reason.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("plugin %q is not allowed (%s): %s; nothing was built", e.Plugin, e.Rule, e.Reason)
}

// Is reports whether target is ErrNotAllowed.
func (e *RefusedError) Is(target error) bool { return target == ErrNotAllowed }

// Problem is an installed plugin that the catalog or the policy no longer
// lets users run, or (with Plugin empty) a problem of the catalog itself.
type Problem struct {
	Plugin  string `json:"plugin,omitempty"`
	Version string `json:"version,omitempty"`
	Reason  string `json:"reason"`
}
