// Command panicky is a process plugin of processhost whose greeter
// panics: the host goes on serving, and its error names the plugin.
package main

import "github.com/shazow/go-selfcompile/example/processhost/greeter"

type panicky struct{}

func (panicky) Greet(name string) (string, error) {
	panic("panicky cannot greet " + name)
}

func main() { greeter.Serve(panicky{}) }
