// Package handlers is where plugins of the takeover example register the
// HTTP handlers they add, from their init functions.
package handlers

import (
	"net/http"
	"slices"
	"sync"
)

var (
	mu       sync.Mutex
	registry = map[string]http.Handler{}
)

// Register serves h at /NAME. Plugins call it from init.
func Register(name string, h http.Handler) {
	mu.Lock()
	defer mu.Unlock()
	registry[name] = h
}

// Names returns the names registered, sorted.
func Names() []string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for n := range registry {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Get returns the handler registered as name.
func Get(name string) (http.Handler, bool) {
	mu.Lock()
	defer mu.Unlock()
	h, ok := registry[name]
	return h, ok
}
