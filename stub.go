package selfcompile

// The stub: what an install writes into the restored main package (the
// plugins' imports, the record, the bundles), and Register, which the stub
// calls when the program starts.

import (
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/stub"
	"github.com/shazow/go-selfcompile/internal/swap"
)

// buildRecord is what the stub records in a binary: what Installed
// returns, what the new binary's probe answers, and what the plugins
// bundle's manifest carries for readers of the file.
type buildRecord = exe.Record[PluginInfo]

// recordJSON returns the record as the stub writes it: the plugins in
// import path order, and [] for none, as stub.EmptyRecord has it.
func recordJSON(r buildRecord) string {
	r.Plugins = slices.Clone(r.Plugins)
	if r.Plugins == nil {
		r.Plugins = []PluginInfo{}
	}
	slices.SortFunc(r.Plugins, func(a, b PluginInfo) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	data, _ := json.Marshal(r) // cannot fail: strings only
	return string(data)
}

// registered is what the generated code passed to Register.
var registered struct {
	shared, toolchain, plugins string
	record                     buildRecord
}

// Register is the hook that the code go-selfcompile generates calls, from
// an init function of package main, with the embedded bundles and the
// build record. If the process was started as a verification probe, it
// answers and exits: main's init runs after every plugin's init, so the
// answer proves that they all ran. Host code does not call Register.
func Register(shared, toolchain, plugins, record string) {
	answerProbe(record)
	if self, err := startExe(); err == nil { // before any swap can rename it
		swap.RemoveAsides(self)
	}
	registered.shared, registered.toolchain, registered.plugins = shared, toolchain, plugins
	if err := json.Unmarshal([]byte(record), &registered.record); err != nil {
		panic("selfcompile: malformed plugin record in " + stub.MainFile + ": " + err.Error())
	}
}

// Installed returns the plugins the running binary was built with, in
// import path order.
func Installed() []PluginInfo {
	return slices.Clone(registered.record.Plugins)
}

// writeStub writes the install's stub into the main package of the
// restored source, and the target's bundles into its bundle package, so
// the new binary carries them again and stays self-compiling. The bundles
// are streamed from the executable file, never held in the heap.
func (in *install) writeStub() error {
	imports := make([]string, len(in.rec.Plugins))
	for i, p := range in.rec.Plugins {
		imports[i] = p.ImportPath
	}
	src, err := stub.Main(stub.BundleImportPath(in.bin.Shared.Manifest.MainPackage), imports, recordJSON(in.rec), in.pluginBundle)
	if err != nil {
		return &PluginError{Spec: strings.Join(imports, " "), Reason: err.Error()}
	}
	if err := fsutil.Copy(filepath.Join(in.mainDir(), stub.MainFile), strings.NewReader(string(src)), 0o644); err != nil {
		return err
	}
	dir := filepath.Join(in.mainDir(), stub.BundleDir)
	tc := in.bin.Toolchain.Manifest
	for name, b := range map[string]*exe.Bundle{
		stub.SharedBundle:                        in.bin.Shared,
		stub.ToolchainBundle(tc.GOOS, tc.GOARCH): in.bin.Toolchain,
	} {
		if err := fsutil.Copy(filepath.Join(dir, name), io.Reader(b.Reader()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
