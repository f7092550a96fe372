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
	c := selfcompile.SelfCompile{
		AutoCleanup: true,
		Logger:      log.New(io.Discard, "", 0),
	}
	c.Plugin(`example.com/x"; func init() { panic("owned") }; import _ "fmt`)
	err := c.Compile()
	fmt.Println(errors.Is(err, selfcompile.ErrInvalidPlugin))
	// Output: true
}

// Apply takes a change set; with DryRun it returns the plan and builds
// nothing.
func ExampleSelfCompile_Apply() {
	c := selfcompile.SelfCompile{DryRun: true, AutoCleanup: true}
	plan, err := c.Apply(context.Background(),
		selfcompile.Change{Op: selfcompile.Add, Spec: "example.com/plugins/metrics@v1.2.0"},
		selfcompile.Change{Op: selfcompile.Remove, Spec: "example.com/plugins/legacy"},
	)
	if err != nil {
		fmt.Println(err) // in this example binary: no bundle (go generate was not run)
		return
	}
	fmt.Print(plan)
	// Output: selfcompile: this binary carries no bundle: run go generate in the main package, then go build
}

func ExamplePlan_String() {
	plan := &selfcompile.Plan{
		Target:   "/usr/local/bin/mytool",
		Added:    []selfcompile.PluginInfo{{ImportPath: "example.com/a", Module: "example.com/a", Version: "v1.0.0"}},
		Upgraded: []selfcompile.VersionChange{{Path: "example.com/c", Old: "v1.0.0", New: "v1.1.0"}},
		HostDeps: []selfcompile.VersionChange{{Path: "golang.org/x/text", Old: "v0.20.0", New: "v0.21.0"}},
	}
	fmt.Print(plan)
	// Output:
	// Plan for /usr/local/bin/mytool:
	//   add      example.com/a v1.0.0
	//   upgrade  example.com/c v1.0.0 => v1.1.0
	//   host dependency golang.org/x/text v0.20.0 => v0.21.0
}

// The generator's work, as go-selfcompile does it from a go:generate line.
func ExampleGenerate() {
	m, err := selfcompile.Generate(context.Background(), selfcompile.GenerateOptions{
		Dir:   "./cmd/mytool",
		Level: selfcompile.LevelBest,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range m.Parts {
		fmt.Printf("%s: %d files, %d bytes compressed\n", p.Name, p.Files, p.Compressed)
	}
}
