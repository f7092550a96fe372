package cacheprog

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The test binary is also the shared cache program of the tests:
// "fake-remote MODE DIR" behaves as that mode says, and exits.
func TestMain(m *testing.M) {
	if len(os.Args) == 4 && os.Args[1] == "fake-remote" {
		fakeRemote(os.Args[2], os.Args[3])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeRemote is a shared cache program: "ok" answers every get from the
// output file it is told of, "lie" does too with content that is not the
// output, "path" answers as "ok" with whatever the test put at the file,
// "zero" with /dev/zero, "error" answers each get with an error, "hang"
// never answers a get, "endless" starts an answer that never ends,
// "silent" never says what it can do, "garbage" prints a line that is not
// the protocol. It writes its files into dir.
func fakeRemote(mode, dir string) {
	enc := json.NewEncoder(os.Stdout)
	switch mode {
	case "silent":
		time.Sleep(time.Hour)
	case "garbage":
		fmt.Println("cache server v1.0 starting")
		time.Sleep(time.Hour)
	}
	enc.Encode(&response{KnownCommands: []string{"get", "put", "close"}})
	dec := json.NewDecoder(os.Stdin)
	for {
		var req request
		var body []byte
		if dec.Decode(&req) != nil {
			return
		}
		if req.BodySize > 0 {
			dec.Decode(&body)
		}
		res := &response{ID: req.ID}
		switch {
		case req.Command == "put":
			os.WriteFile(filepath.Join(dir, "puts"), fmt.Appendf(nil, "%x\n", req.ActionID), 0o600)
			res.DiskPath = "/nonexistent"
		case req.Command == "close":
		case mode == "hang":
			continue
		case mode == "endless":
			fmt.Printf(`{"ID":%d,"Err":"`, req.ID)
			for chunk := strings.Repeat("x", 64<<10); ; {
				if _, err := os.Stdout.WriteString(chunk); err != nil {
					return
				}
			}
		case mode == "path" || mode == "zero":
			sum := sha256.Sum256([]byte(output))
			res.OutputID, res.Size, res.DiskPath = sum[:], int64(len(output)), filepath.Join(dir, "out")
			if mode == "zero" {
				res.DiskPath = "/dev/zero"
			}
		case mode == "error":
			res.Err = "Get \"http://127.0.0.1:1/a\": dial tcp 127.0.0.1:1: connect: connection refused"
		case mode == "ok" || mode == "lie":
			content := []byte(output)
			path := filepath.Join(dir, "out")
			sum := sha256.Sum256(content)
			if mode == "lie" {
				content = []byte("something else!")
			}
			os.WriteFile(path, content, 0o600)
			res.OutputID, res.Size, res.DiskPath = sum[:], int64(len(content)), path
		}
		enc.Encode(res)
		if req.Command == "close" {
			return
		}
	}
}

// output is what the fake shared cache claims as its output.
const output = "compiled package"

// goCommand is the go command's side of the protocol, talking to Serve.
type goCommand struct {
	t    *testing.T
	enc  *json.Encoder
	in   io.WriteCloser
	dec  *json.Decoder
	done chan error
	cfg  Config
}

func start(t *testing.T, mode string) *goCommand {
	t.Helper()
	return startWith(t, mode, "")
}

// startWith starts the proxy with a shared cache of mode and a seed, if
// they are not "".
func startWith(t *testing.T, mode, seed string) *goCommand {
	t.Helper()
	return startConfig(t, mode, Config{Seed: seed, Timeout: 2 * time.Second})
}

// startConfig starts the proxy with cfg, its directories in a new
// temporary directory, the shared cache's files too.
func startConfig(t *testing.T, mode string, cfg Config) *goCommand {
	t.Helper()
	dir := t.TempDir()
	cfg.Dir, cfg.Note = cmp.Or(cfg.Dir, filepath.Join(dir, "gocache")), filepath.Join(dir, "note")
	if mode != "" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Remote = fmt.Sprintf("'%s' fake-remote %s '%s'", exe, mode, dir)
	}
	reqR, reqW := io.Pipe()
	resR, resW := io.Pipe()
	g := &goCommand{t: t, enc: json.NewEncoder(reqW), in: reqW, dec: json.NewDecoder(bufio.NewReader(resR)), done: make(chan error, 1), cfg: cfg}
	go func() { g.done <- Serve(reqR, resW, cfg); resW.Close() }()
	var caps response
	if err := g.dec.Decode(&caps); err != nil || len(caps.KnownCommands) != 3 {
		t.Fatalf("capabilities: %+v, %v", caps, err)
	}
	return g
}

// send sends a request, a put's body on the next line, and returns the
// answer (requests here are sent one at a time).
func (g *goCommand) send(req request, body []byte) response {
	g.t.Helper()
	g.enc.Encode(req)
	if len(body) > 0 {
		g.enc.Encode(body)
	}
	var res response
	if err := g.dec.Decode(&res); err != nil || res.ID != req.ID {
		g.t.Fatalf("answer to %+v: %+v, %v", req, res, err)
	}
	return res
}

func (g *goCommand) close() {
	g.t.Helper()
	g.send(request{ID: 99, Command: "close"}, nil)
	g.in.Close()
	if err := <-g.done; err != nil {
		g.t.Fatal(err)
	}
}

func (g *goCommand) note() string {
	data, _ := os.ReadFile(g.cfg.Note)
	return string(data)
}

func id(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

// TestLocal: without a shared cache, what is put is got back, from a
// file in the go command's own format.
func TestLocal(t *testing.T) {
	g := start(t, "")
	body := []byte("an object file")
	if res := g.send(request{ID: 1, Command: "get", ActionID: id("a")}, nil); !res.Miss {
		t.Fatalf("get before put: %+v", res)
	}
	put := g.send(request{ID: 2, Command: "put", ActionID: id("a"), OutputID: id(string(body)), BodySize: int64(len(body))}, body)
	res := g.send(request{ID: 3, Command: "get", ActionID: id("a")}, nil)
	if res.Miss || res.DiskPath != put.DiskPath || res.Size != int64(len(body)) {
		t.Fatalf("get after put: %+v (put: %+v)", res, put)
	}
	if data, _ := os.ReadFile(res.DiskPath); string(data) != string(body) {
		t.Fatalf("the output file holds %q", data)
	}
	entry, _ := os.ReadFile(filepath.Join(g.cfg.Dir, fmt.Sprintf("%x", id("a")[:1]), fmt.Sprintf("%x-a", id("a"))))
	if !strings.HasPrefix(string(entry), fmt.Sprintf("v1 %x %x ", id("a"), id(string(body)))) || len(entry) != entrySize {
		t.Errorf("the entry is not in the go command's format: %q", entry)
	}
	bad := g.send(request{ID: 4, Command: "put", ActionID: id("b"), OutputID: id("other"), BodySize: int64(len(body))}, body)
	if bad.Err == "" {
		t.Errorf("a put whose body is not its output ID was stored: %+v", bad)
	}
	g.close()
}

// TestRemoteHit: a miss in the local cache is got from the shared one,
// copied into the local cache, and put outputs are sent to it.
func TestRemoteHit(t *testing.T) {
	g := start(t, "ok")
	res := g.send(request{ID: 1, Command: "get", ActionID: id("a")}, nil)
	if res.Miss || !strings.HasPrefix(res.DiskPath, g.cfg.Dir) {
		t.Fatalf("get: %+v", res)
	}
	body := []byte("x")
	g.send(request{ID: 2, Command: "put", ActionID: id("p"), OutputID: id("x"), BodySize: 1}, body)
	g.close()
	if n := g.note(); n != "" {
		t.Errorf("a working shared cache was noted: %s", n)
	}
	puts, _ := os.ReadFile(filepath.Join(filepath.Dir(g.cfg.Dir), "puts"))
	if string(puts) != fmt.Sprintf("%x\n", id("p")) {
		t.Errorf("the shared cache was put %q", puts)
	}
}

// TestSeed: a miss in the local cache is taken from the seed, copied into
// the local cache, which then holds it as if the build had put it; an
// entry of the seed whose output is not what it claims is a miss, and is
// not copied. The seed is not written.
func TestSeed(t *testing.T) {
	seed := store{dir: t.TempDir()}
	good, bad := []byte("an object file"), []byte("another object")
	if _, err := seed.put(id("a"), id(string(good)), int64(len(good)), strings.NewReader(string(good))); err != nil {
		t.Fatal(err)
	}
	tampered, err := seed.put(id("b"), id(string(bad)), int64(len(bad)), strings.NewReader(string(bad)))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(tampered, []byte("another 0bject"), 0o600) // the same size
	g := startWith(t, "", seed.dir)
	res := g.send(request{ID: 1, Command: "get", ActionID: id("a")}, nil)
	if res.Miss || !strings.HasPrefix(res.DiskPath, g.cfg.Dir) || string(res.OutputID) != string(id(string(good))) {
		t.Fatalf("get of an entry of the seed: %+v", res)
	}
	if res := g.send(request{ID: 2, Command: "get", ActionID: id("b")}, nil); !res.Miss {
		t.Errorf("a tampered entry of the seed was a hit: %+v", res)
	}
	g.close()
	if e, ok := (store{dir: g.cfg.Dir}).get(id("a")); !ok || e.size != int64(len(good)) {
		t.Errorf("the local cache does not hold the seed's entry: %+v %v", e, ok)
	}
	if _, ok := (store{dir: g.cfg.Dir}).get(id("b")); ok {
		t.Error("the tampered entry was copied into the local cache")
	}
	if data, _ := os.ReadFile(tampered); string(data) != "another 0bject" {
		t.Errorf("the seed was written: %q", data)
	}
}

// TestRemoteFails: whatever the shared cache does wrong, a get is answered
// from the local cache or as a miss within about the timeout, the go
// command's close is answered, and the note says what went wrong.
func TestRemoteFails(t *testing.T) {
	for mode, want := range map[string]string{
		"hang":    "did not answer a get within",
		"silent":  "did not say what it can do within",
		"error":   "answered a get with an error: Get \"http://127.0.0.1:1/a\": dial tcp 127.0.0.1:1: connect: connection refused",
		"lie":     "returned an output that cannot be used: " + errMismatch.Error(),
		"garbage": "sent something that is not an answer",
	} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			g := start(t, mode)
			start := time.Now()
			if res := g.send(request{ID: 1, Command: "get", ActionID: id("a")}, nil); !res.Miss {
				t.Fatalf("get: %+v", res)
			}
			if res := g.send(request{ID: 2, Command: "get", ActionID: id("b")}, nil); !res.Miss {
				t.Fatalf("second get: %+v", res)
			}
			g.close()
			if n := g.note(); !strings.Contains(n, want) || strings.Count(n, "\n") != 1 {
				t.Errorf("note %q, want one line with %q", n, want)
			}
			if d := time.Since(start); d > 10*g.cfg.Timeout {
				t.Errorf("took %v with a timeout of %v", d, g.cfg.Timeout)
			}
		})
	}
}

// TestCannotStart: a shared cache program that is not there is noted.
func TestCannotStart(t *testing.T) {
	g := start(t, "")
	g.close()
	cfg := g.cfg
	cfg.Remote = "/nonexistent/go-cacher -verbose"
	reqR, reqW := io.Pipe()
	go func() {
		json.NewEncoder(reqW).Encode(request{ID: 1, Command: "get", ActionID: id("a")})
		reqW.Close()
	}()
	if err := Serve(reqR, io.Discard, cfg); err != nil {
		t.Fatal(err)
	}
	if n := g.note(); !strings.Contains(n, "cannot be started") {
		t.Errorf("note %q", n)
	}
}
