package selfcompile_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"

	selfcompile "github.com/shazow/go-selfcompile"
)

// A host installs a plugin behind a command-line flag. Plugin specs are
// checked before any work: this one tries to put code into the stub.
func ExampleSelfCompile_Plugin() {
	c := selfcompile.SelfCompile{Logger: log.New(io.Discard, "", 0)}
	c.Plugin(`example.com/x"; func init() { panic("owned") }; import _ "fmt`)
	err := c.Compile()
	fmt.Println(errors.Is(err, selfcompile.ErrInvalidPlugin))
	// Output: true
}

// Plan computes what Apply would do and builds nothing. This example's
// program was not prepared with go-selfcompile, so it reports ErrNoBundle.
func ExampleSelfCompile_Plan() {
	var c selfcompile.SelfCompile
	plan, err := c.Plan(context.Background(), selfcompile.Change{
		Add:    []string{"example.com/plugins/metrics@v1.2.0"},
		Remove: []string{"example.com/plugins/legacy"},
	})
	if errors.Is(err, selfcompile.ErrNoBundle) {
		fmt.Println("run go generate in the main package first")
		return
	}
	fmt.Print(plan)
	// Output: run go generate in the main package first
}

func ExamplePlan_String() {
	plan := &selfcompile.Plan{
		Target:   "/usr/local/bin/mytool",
		Added:    []selfcompile.PluginInfo{{ImportPath: "example.com/a", Module: "example.com/a", Version: "v1.0.0"}},
		Upgraded: []selfcompile.VersionChange{{Path: "example.com/c", Old: "v1.0.0", New: "v1.1.0"}},
		HostDeps: []selfcompile.VersionChange{{Path: "golang.org/x/text", Old: "v0.20.0", New: "v0.21.0"}},
		Carried:  map[string][]string{"example.com/local": {"go.mod", "plugin.go"}},
	}
	fmt.Print(plan)
	// Output:
	// Plan for /usr/local/bin/mytool:
	//   add      example.com/a v1.0.0
	//   upgrade  example.com/c v1.0.0 => v1.1.0
	//   host dependency golang.org/x/text v0.20.0 => v0.21.0
	//   carry    example.com/local: go.mod plugin.go
}

// A long-running program makes the new binary take over after an install.
func ExampleSelfCompile_Restart() {
	c := selfcompile.SelfCompile{LDFlags: "-X main.version=1.2.3"}
	c.Plugin("example.com/plugins/metrics@v1.2.0")
	if err := c.Compile(); err != nil {
		log.Print(err) // the executable is unchanged
		return
	}
	log.Fatal(c.Restart()) // returns only if it failed
}

// A release pipeline checks that a binary's bundle rebuilds it, as its
// users' first install will. This example's program was not prepared with
// go-selfcompile, so it carries no bundle to check.
func ExampleSelfCompile_CheckBundle() {
	c := selfcompile.SelfCompile{LDFlags: "-X main.version=v1.2.0", Logger: log.New(io.Discard, "", 0)}
	res, err := c.CheckBundle(context.Background())
	var stale *selfcompile.StaleBundleError
	switch {
	case errors.As(err, &stale):
		fmt.Println("the release differs from what its bundle builds:", stale.Differences)
	case errors.Is(err, selfcompile.ErrNoBundle):
		fmt.Println("no bundle: run go generate before go build")
	case err != nil:
		fmt.Println(err)
	case res.Identical:
		fmt.Println("the bundle rebuilds the release")
	}
	// Output: no bundle: run go generate before go build
}
