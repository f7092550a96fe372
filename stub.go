package selfcompile

// The stub: what an install writes into the restored main package (the
// plugins' imports, the record, the bundles), and what the running
// program's stub registered (package hook).

import (
	"encoding/json"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/shazow/go-selfcompile/hook"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/stub"
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

// Installed returns the plugins the running binary was built with, in
// import path order.
func Installed() []PluginInfo {
	return slices.Clone(installed().Plugins)
}

// installed is the record of the running binary, which the stub gave the
// hook package.
var installed = sync.OnceValue(func() buildRecord {
	var r buildRecord
	_, _, _, record := hook.Registered()
	if record != "" {
		json.Unmarshal([]byte(record), &r) // written by the stub, from recordJSON
	}
	return r
})

// writeStub writes the install's stub into the main package of the
// restored source, and the target's bundles into its bundle package, so
// the new binary carries them again and stays self-compiling. The bundles
// are streamed from the executable file, never held in the heap.
func (res *resolution) writeStub() error {
	imports := make([]string, len(res.rec.Plugins))
	for i, p := range res.rec.Plugins {
		imports[i] = p.ImportPath
	}
	src, err := stub.Main(stub.BundleImportPath(res.bin.Shared.Manifest.MainPackage), imports, recordJSON(res.rec), res.pluginBundle)
	if err != nil {
		return &PluginError{Spec: strings.Join(imports, " "), Reason: err.Error()}
	}
	if err := fsutil.Copy(filepath.Join(res.mainDir(), stub.MainFile), strings.NewReader(string(src)), 0o644); err != nil {
		return err
	}
	return res.writeBundles()
}

// writeBundles writes the executable's shared and toolchain bundles into
// the bundle package of the restored source, once an install; or, for a
// program whose bundles are in a file beside it, its beside bundle.
func (res *resolution) writeBundles() error {
	if res.bundlesWritten {
		return nil
	}
	dir := filepath.Join(res.mainDir(), stub.BundleDir)
	tc := res.bin.Toolchain.Manifest
	bundles := map[string]*exe.Bundle{
		stub.SharedBundle:                        res.bin.Shared,
		stub.ToolchainBundle(tc.GOOS, tc.GOARCH): res.bin.Toolchain,
	}
	if b := res.bin.Beside; b != nil { // the new binary names the same side file
		bundles = map[string]*exe.Bundle{stub.BesideBundle(b.Manifest.GOOS, b.Manifest.GOARCH): b}
	}
	for name, b := range bundles {
		if err := fsutil.Copy(filepath.Join(dir, name), io.Reader(b.Reader()), 0o644); err != nil {
			return err
		}
	}
	res.bundlesWritten = true
	return nil
}

// Plugins returns the plugins of the executable on disk (Target), as its
// record says: what the next start runs, which the running process's
// Installed may not be.
func (c *SelfCompile) Plugins() ([]PluginInfo, error) {
	target, err := c.target()
	if err != nil {
		return nil, apiErr(err)
	}
	bin, err := exe.Open(target)
	if err != nil {
		return nil, apiErr(&TargetError{Path: target, Err: err})
	}
	defer bin.Close()
	rec, err := exe.ReadRecord[PluginInfo](bin)
	return rec.Plugins, apiErr(err)
}
