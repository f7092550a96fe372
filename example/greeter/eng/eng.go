// Package eng is a greeter plugin: English. Its init registers it, and it
// exports its Greeter, as the classic plugin example's eng.so does.
package eng

import "github.com/shazow/go-selfcompile/example/greeter/greeters"

type greeting struct{}

func (greeting) Greet() string { return "Hello Universe" }

// Greeter greets in English.
var Greeter greeters.Greeter = greeting{}

func init() { greeters.Register("english", Greeter) }
