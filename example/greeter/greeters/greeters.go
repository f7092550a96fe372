// Package greeters is where greeter plugins register: by a language's
// name, from their init, whether they are compiled into the greeter or
// loaded into it while it runs.
package greeters

import (
	"slices"
	"sync"
)

// Greeter greets in one language.
type Greeter interface {
	Greet() string
}

var (
	mu       sync.Mutex
	registry = map[string]Greeter{}
)

// Register adds a greeter for a language. Plugins call it from init.
func Register(language string, g Greeter) {
	mu.Lock()
	defer mu.Unlock()
	registry[language] = g
}

// Get returns the greeter of a language.
func Get(language string) (Greeter, bool) {
	mu.Lock()
	defer mu.Unlock()
	g, ok := registry[language]
	return g, ok
}

// Languages returns the languages that have a greeter, sorted.
func Languages() []string {
	mu.Lock()
	defer mu.Unlock()
	var out []string
	for l := range registry {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}
