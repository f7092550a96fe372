// Package testutil holds what the tests of several packages share: the
// plugin names that try to smuggle code into the stub, and running a test
// again as another user.
package testutil

// Injections are plugin names that try to smuggle Go code into the stub.
var Injections = []string{
	`example.com/x"; func init() { panic("owned") }; import _ "fmt`,
	"example.com/x\"\nfunc init() { panic(1) }\nvar _ = \"",
	"example.com/x`+`",
	"example.com/x\x00y",
	"example.com/x // comment",
	"example.com/x;os.Exit(1)",
	"example.com/${HOME}",
	"example.com/ünïcode",
	"example.com/x\u202e",
}
