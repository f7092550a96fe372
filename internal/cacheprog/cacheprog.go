// Package cacheprog stands between the go command and a shared build cache
// program (the user's GOCACHEPROG, such as go-tool-cache's go-cacher). The
// go command talks to it as to any cache program (protocol: go doc
// cmd/go/internal/cacheprog); it answers from the install's own build
// cache, kept in the go command's format, asks the shared cache for what
// that lacks, checks that what comes back hashes to the output ID it
// claims before the build sees it, and stores what the build compiles in
// both. What the shared cache returns is another program's file: only a
// regular file is read, at most the size the answer claims and within the
// time of the call, and it is copied, never linked, so that the program
// may rewrite it later. An answer, which names files, is at most maxAnswer
// bytes.
//
// The generator uses it too, for --warm-cache: the go command's own build
// cache (GOCACHE) is a seed, read only, whose entries are copied, checked
// in the same way, into the warm cache being made, which then holds what
// the build used, as if it had compiled it all. A copy, though a link
// would be safe there (the go command writes into an output file only
// when it does not hash to its ID, and such a file is not taken): one way
// for both, and the warm cache is usually in the temporary directory,
// often another file system, where a link falls back to a copy anyway.
//
// Temporary files are written in a directory of each go-between's own in
// the local cache, locked while it runs: the next one to start removes
// what a killed one left.
//
// The first failure of the shared cache ends its use for that go command:
// it cannot start, answers an error or something that is not the
// protocol, returns an output that is not what it claims, or does not
// answer within the timeout. The build goes on from the local cache and
// compiles the rest, and the reason is written to a note file that the
// install reports; later go commands of the install see the note and do
// not try the shared cache again. A shared cache can slow an install by
// one timeout, never stop it.
package cacheprog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/shazow/go-selfcompile/internal/gocmd"
)

// Timeout is how long a go-between waits for each answer of a shared
// cache unless told otherwise: a shared cache that does not answer in time
// is left for the rest of the go command.
const Timeout = 15 * time.Second

// NoteFile is the usual name of Config.Note, in the directory of the
// builds it concerns.
const NoteFile = "shared-cache.note"

// Env is the variable that starts a program as the proxy: the JSON of a
// Config.
const Env = "GO_SELFCOMPILE_CACHEPROG"

// Config is what the proxy is given.
type Config struct {
	Remote  string        // the shared cache program, as GOCACHEPROG says it
	Dir     string        // the local build cache (GOCACHE)
	Seed    string        // a build cache in the go command's format to take what Dir lacks from first, copied, its files only marked used, as the go command marks them; "" for none
	Note    string        // the file that says why the shared cache failed; while it exists, it is not used
	Timeout time.Duration // how long to wait for each answer of the shared cache
}

// Command returns the GOCACHEPROG value that starts exe as the proxy, with
// env[Env] set to the JSON of cfg. The go command reads answers from the
// program's standard output, which init functions of the program may
// print to before the proxy starts; so sh starts it with the protocol on
// file descriptor 3 and standard output on standard error. ok is false
// where that cannot be said: on Windows, or for a path with both kinds of
// quote.
func Command(exe string, cfg Config) (prog, env string, ok bool) {
	q, ok := gocmd.Quote(exe)
	if !ok || !haveShell {
		return "", "", false
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		return "", "", false
	}
	return `/bin/sh -c 'exec "$0" 3>&1 1>&2' ` + q, Env + "=" + string(data), true
}

// request and response are the protocol's messages.
type request struct {
	ID                 int64
	Command            string
	ActionID, OutputID []byte `json:",omitempty"`
	BodySize           int64  `json:",omitempty"`
}

type response struct {
	ID            int64
	Err           string     `json:",omitempty"`
	KnownCommands []string   `json:",omitempty"`
	Miss          bool       `json:",omitempty"`
	OutputID      []byte     `json:",omitempty"`
	Size          int64      `json:",omitempty"`
	Time          *time.Time `json:",omitempty"`
	DiskPath      string     `json:",omitempty"`
}

// Serve answers the go command's requests read from in on out until it
// closes, with cfg's local cache and, while it works, its shared one.
func Serve(in io.Reader, out io.Writer, cfg Config) error {
	local, closeLocal := openStore(cfg.Dir)
	defer closeLocal()
	p := &proxy{local: local, out: bufio.NewWriter(out)}
	if cfg.Seed != "" {
		p.seed = &store{dir: cfg.Seed}
	}
	if _, err := os.Stat(cfg.Note); cfg.Remote != "" && err != nil { // not failed for an earlier go command
		p.remote = startRemote(cfg)
		defer p.remote.stop()
	}
	if err := p.respond(&response{KnownCommands: []string{"get", "put", "close"}}); err != nil {
		return err
	}
	// Requests are read in order (a put's body is the next JSON value, a
	// base64 string) and answered concurrently, by ID.
	dec := json.NewDecoder(bufio.NewReader(in))
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var req request
		var body []byte
		err := dec.Decode(&req)
		if err == nil && req.Command == "put" && req.BodySize > 0 {
			err = dec.Decode(&body)
		}
		if errors.Is(err, io.EOF) {
			return nil // the go command may end without a close
		} else if err != nil {
			return fmt.Errorf("reading a request of the go command: %w", err)
		}
		if req.Command == "close" {
			wg.Wait()
			p.remote.stop() // its puts sent first
			return p.respond(&response{ID: req.ID})
		}
		wg.Go(func() { p.respond(p.handle(&req, body)) })
	}
}

// proxy is one go command's cache.
type proxy struct {
	local  store
	seed   *store  // nil without one
	remote *remote // nil without a shared cache

	mu  sync.Mutex // serializes out
	out *bufio.Writer
}

func (p *proxy) respond(res *response) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := json.NewEncoder(p.out).Encode(res); err != nil {
		return err
	}
	return p.out.Flush()
}

func (p *proxy) handle(req *request, body []byte) *response {
	if len(req.ActionID) != idSize {
		return &response{ID: req.ID, Err: fmt.Sprintf("an action ID of %d bytes", len(req.ActionID))}
	}
	switch req.Command {
	case "get":
		e, ok := p.local.get(req.ActionID)
		if !ok {
			e, ok = p.fromSeed(req.ActionID)
		}
		if !ok {
			e, ok = p.remote.get(req.ActionID, p.local)
		}
		if !ok {
			return &response{ID: req.ID, Miss: true}
		}
		return &response{ID: req.ID, OutputID: e.output, Size: e.size, Time: &e.time, DiskPath: e.path}
	case "put":
		path, err := p.local.put(req.ActionID, req.OutputID, int64(len(body)), bytes.NewReader(body))
		if err != nil {
			return &response{ID: req.ID, Err: err.Error()}
		}
		p.remote.put(req.ActionID, req.OutputID, path, int64(len(body)))
		return &response{ID: req.ID, DiskPath: path}
	}
	return &response{ID: req.ID, Err: "unknown command " + req.Command}
}

// fromSeed copies the entry of an action from the seed into the local
// cache, checked as the shared cache's are, and returns it. An entry that
// is not what it claims is a miss: the build compiles it.
func (p *proxy) fromSeed(action []byte) (entry, bool) {
	if p.seed == nil {
		return entry{}, false
	}
	e, ok := p.seed.get(action)
	if !ok || p.local.adopt(action, e.output, e.size, e.path, nil) != nil {
		return entry{}, false
	}
	return p.local.get(action)
}

// note appends why the shared cache was dropped to the note file.
func note(file, reason string) {
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "go-selfcompile: the shared build cache (GOCACHEPROG) %s\n", reason)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, reason) // one write: several go commands may append
}
