package plugincmd_test

import (
	"context"

	"github.com/shazow/go-selfcompile/plugincmd"
)

// A program's "plugin list --json", for a configuration tool: this
// example's program has no plugins.
func ExampleRun() {
	plugincmd.Run(context.Background(), []string{"list", "--json"})
	// Output: []
}
