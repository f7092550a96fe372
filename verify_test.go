//go:build unix

package selfcompile_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A plugin that prints more than a MiB in init, or that starts a child
// which keeps standard output open, is verified like any other; the child
// does not outlive the verification.
func TestVerifyNoisyPlugins(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	pidFile := filepath.Join(tempDir(t), "child.pid")
	noisy := plugin(t, map[string]string{"go.mod": "module example.com/noisy\n\ngo 1.26\n",
		"p.go": "package noisy\n\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\nfunc init() { fmt.Print(strings.Repeat(\"noise \", 400000)) }\n"})
	child := plugin(t, map[string]string{"go.mod": "module example.com/child\n\ngo 1.26\n",
		"p.go": "package child\n\nimport (\n\t\"os\"\n\t\"os/exec\"\n)\n\nfunc init() {\n\tif os.Getenv(\"GO_SELFCOMPILE_PROBE\") == \"\" {\n\t\treturn\n\t}\n\tcmd := exec.Command(\"sh\", \"-c\", \"echo $$ > " + pidFile + "; exec sleep 300\")\n\tcmd.Stdout = os.Stdout\n\tcmd.Start()\n\tfor i := 0; i < 500; i++ {\n\t\tif fi, err := os.Stat(\"" + pidFile + "\"); err == nil && fi.Size() > 0 {\n\t\t\tbreak\n\t\t}\n\t\texec.Command(\"sleep\", \"0.01\").Run()\n\t}\n}\n"})
	target := installedCopy(t)
	for _, p := range []string{noisy, child} {
		sc := installer(t, target)
		sc.ProbeTimeout = 20 * time.Second
		sc.Plugin(p)
		// The child keeps the output open for 300 s: a probe that waited
		// for its end would time out (ErrVerify).
		if err := sc.Compile(); err != nil {
			t.Fatalf("install of %s: %v", filepath.Base(filepath.Dir(p)), err)
		}
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal("the child never started:", err)
	}
	var pid int
	if _, err := fmt.Sscan(string(data), &pid); err != nil || pid <= 0 {
		t.Fatalf("the child's pid file holds %q", data)
	}
	if alive(pid) {
		t.Errorf("the child %d the plugin started outlived the verification", pid)
	}
}

// The probe's files are in the install's workdir, not TMPDIR: an install
// works with TMPDIR missing, and with a plugin that prints far more than
// the probe keeps.
func TestVerifyWithoutTMPDIR(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	loud := plugin(t, map[string]string{"go.mod": "module example.com/loud\n\ngo 1.26\n",
		"p.go": "package loud\n\nimport (\n\t\"os\"\n\t\"strings\"\n)\n\nfunc init() {\n\tline := []byte(strings.Repeat(\"loud \", 1<<14))\n\tfor range 1 << 9 {\n\t\tos.Stdout.Write(line)\n\t}\n}\n"}) // 40 MB
	target := installedCopy(t)
	_, errOut, err := run(t, target, []string{"TMPDIR=" + filepath.Join(tempDir(t), "missing", "tmp")}, "plugin", "add", loud)
	if err != nil {
		t.Fatalf("install with TMPDIR missing and a plugin printing 40 MB: %v\n%s", err, errOut)
	}
}
