// Package commands is where plugins of cobrahost register the commands
// they add, from their init functions.
package commands

import (
	"sync"

	"github.com/spf13/cobra"
)

var (
	mu       sync.Mutex
	registry []*cobra.Command
)

// Register adds a command to cobrahost. Plugins call it from init.
func Register(c *cobra.Command) {
	mu.Lock()
	defer mu.Unlock()
	registry = append(registry, c)
}

// All returns the registered commands.
func All() []*cobra.Command {
	mu.Lock()
	defer mu.Unlock()
	return append([]*cobra.Command(nil), registry...)
}
