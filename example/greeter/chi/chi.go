// Package chi is a greeter plugin: Chinese. Its init registers it, and it
// exports its Greeter, as the classic plugin example's chi.so does.
package chi

import "github.com/shazow/go-selfcompile/example/greeter/greeters"

type greeting struct{}

func (greeting) Greet() string { return "你好宇宙" }

// Greeter greets in Chinese.
var Greeter greeters.Greeter = greeting{}

func init() { greeters.Register("chinese", Greeter) }
