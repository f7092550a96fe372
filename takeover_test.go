//go:build linux

package selfcompile_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestTakeover: example/takeover, a server built without cgo, installs a
// plugin and hands over to the new binary (cloudflare/tableflip passes it
// the listening socket; the old process drains and exits) while a client
// makes requests in a loop: the client sees no refused or failed request,
// and then the new process, with the plugin's handler, answering.
func TestTakeover(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	dir := filepath.Join(tempDir(t), "repo")
	if err := copyRepo(e2e.repo, dir); err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(dir, "example", "takeover")
	if out, err := command(host, nil, "go", "tool", "go-selfcompile", "--level", "fastest", "-q"); err != nil {
		t.Fatalf("generating: %v\n%s", err, out)
	}
	bin := filepath.Join(tempDir(t), "bin", "takeover")
	gocache := filepath.Join(e2e.cacheDir, "go-selfcompile", "build")
	if out, err := command(host, []string{"GOCACHE=" + gocache, "CGO_ENABLED=0"}, "go", "build", "-trimpath", "-buildvcs=false", "-o", bin, "."); err != nil {
		t.Fatalf("building the takeover example without cgo: %v\n%s", err, out)
	}
	plug := plugin(t, map[string]string{
		"go.mod": "module example.com/hello\n\ngo 1.26\n\nrequire github.com/shazow/go-selfcompile/example/takeover v0.0.0\n",
		"hello.go": "package hello\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n\n\t\"github.com/shazow/go-selfcompile/example/takeover/handlers\"\n)\n\n" +
			"func init() {\n\thandlers.Register(\"hello\", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, \"hello from a plugin\") }))\n}\n",
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	pidFile := filepath.Join(tempDir(t), "takeover.pid")
	server := exec.Command(bin, "-addr", addr, "-pidfile", pidFile)
	server.Env = userEnv()
	server.Stdout, server.Stderr = io.Discard, os.Stderr
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if pid, err := readPid(pidFile); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		server.Process.Kill()
		server.Wait()
	}()
	first := waitBody(t, addr, "handlers []")

	// The clients: four loops of requests, each on a connection of its own,
	// so that some arrive while the old process stops accepting.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var mu sync.Mutex
	var failed []string
	requests, last := 0, ""
	stop := make(chan struct{})
	var clients sync.WaitGroup
	for range 4 {
		clients.Go(func() { get(client, addr, stop, &mu, &requests, &failed, &last) })
	}

	pluginCmd(t, bin, nil, "add", plug)
	old := pidOf(first)
	syscall.Kill(old, syscall.SIGHUP)
	deadline := time.Now().Add(60 * time.Second)
	for {
		mu.Lock()
		l := last
		mu.Unlock()
		if strings.Contains(l, "handlers [hello]") && pidOf(l) != old && !alive(old) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no takeover by the new binary within a minute; last answer %q", l)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // requests to the new process alone
	close(stop)
	clients.Wait()
	if len(failed) > 0 {
		t.Errorf("%d of %d requests failed during the install and the takeover: %q", len(failed), requests, failed[:min(5, len(failed))])
	}
	if body := waitBody(t, addr+"/hello", "hello from a plugin"); body == "" {
		t.Error("the plugin's handler does not answer")
	}
	t.Logf("%d requests, none failed; process %d handed over to %d", requests, old, pidOf(last))
}

// waitBody waits until http://addr answers with a body containing want,
// and returns the body.
func waitBody(t *testing.T, addr, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Contains(string(body), want) {
				return string(body)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("http://%s does not answer %q: %v", addr, want, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pidOf returns the process ID of an answer "pid N handlers [...]".
func pidOf(body string) int {
	var pid int
	fmt.Sscanf(body, "pid %d", &pid)
	return pid
}

func readPid(file string) (int, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// get makes requests to addr in a loop until stop closes, counting them
// and keeping the errors and the last answer.
func get(client *http.Client, addr string, stop chan struct{}, mu *sync.Mutex, requests *int, failed *[]string, last *string) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		resp, err := client.Get("http://" + addr + "/")
		var body []byte
		if err == nil {
			body, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("status %s", resp.Status)
			}
		}
		mu.Lock()
		*requests++
		if err != nil {
			*failed = append(*failed, err.Error())
		} else {
			*last = string(body)
		}
		mu.Unlock()
	}
}
