// Command hello is a process plugin of processhost: a greeter that needs
// a newer pflag (v1.0.6) than the host's (v1.0.5), which it may, as a
// program of its own, with its own module graph.
package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/pflag"

	"github.com/shazow/go-selfcompile/example/processhost/greeter"
)

type hello struct{}

func (hello) Greet(name string) (string, error) {
	return fmt.Sprintf("hello %s, from a process plugin built with pflag %s", name, moduleVersion("github.com/spf13/pflag")), nil
}

// moduleVersion is the version of module path that this program was
// built with.
func moduleVersion(path string) string {
	bi, _ := debug.ReadBuildInfo()
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return "(none)"
}

func main() {
	pflag.Parse() // a plugin takes no arguments; pflag is here for its version
	greeter.Serve(hello{})
}
