// Command cacheprog is a minimal GOCACHEPROG program (protocol: 'go doc
// cmd/go/internal/cacheprog') keeping the build cache in a directory that
// outlives the go command and may be shared by several users or machines,
// as a fleet's cache program would; the tests use it to prove that installs
// honour GOCACHEPROG:
//
//	GOCACHEPROG="cacheprog /path/to/store [/path/to/seed/gocache]" go build ./...
//
// Bodies live in <store>/o/<outputID>, entries in <store>/a/<actionID> as
// "<outputID> <size> <unixnano>", each written via a temp file and rename.
// A miss in the store is looked up, read-only, in the seed, a go build
// cache directory, so that a test need not compile the standard library
// again. Requests are logged to <store>/requests.log as "<command>
// <actionID> <result>".
//
// With a URL in place of STOREDIR, the store is an HTTP server, as a
// fleet's cache client would have it: GET and PUT <url>/<actionID>, the
// body "<outputID> <size>\n" and then the output, 404 for a miss; outputs
// got are kept in a temporary directory. An error is answered as an
// error, and the HTTP client has no timeout, as many have not.
package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

type request struct {
	ID                 int64
	Command            string
	ActionID, OutputID []byte
	BodySize           int64
}

type response struct {
	ID            int64
	Err           string     `json:",omitempty"`
	KnownCommands []string   `json:",omitempty"`
	Miss          bool       `json:",omitempty"`
	OutputID      []byte     `json:",omitempty"`
	Size          int64      `json:",omitempty"`
	Time          *time.Time `json:",omitempty"`
	DiskPath      string     `json:",omitempty"` // must be absolute
}

var (
	store   string
	server  string // the store's URL, if it is a server
	seed    string
	logFile io.Writer
	outMu   sync.Mutex                   // serializes stdout and requests.log
	enc     = json.NewEncoder(os.Stdout) // one Write per Encode
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		log.Fatal("usage: cacheprog STOREDIR [SEEDGOCACHE]")
	}
	if len(os.Args) == 3 {
		seed = os.Args[2]
	}
	if err := open(os.Args[1]); err != nil {
		log.Fatal(err)
	}
	reply(&response{KnownCommands: []string{"get", "put", "close"}}, "") // ID 0: capabilities

	// Requests are read in order (a put's body is the next JSON value, a base64
	// string that decodes into []byte) but answered concurrently, by ID.
	dec := json.NewDecoder(os.Stdin)
	var wg sync.WaitGroup
	defer wg.Wait() // stdin may reach EOF without a "close" (e.g. go list -export)
	for {
		var req request
		var body []byte
		err := dec.Decode(&req)
		if err == nil && req.Command == "put" && req.BodySize > 0 {
			err = dec.Decode(&body)
		}
		if err == io.EOF {
			return
		} else if err != nil {
			log.Fatal(err)
		}
		if req.Command == "close" {
			wg.Wait()
			reply(&response{ID: req.ID}, "close - -")
			return
		}
		wg.Go(func() {
			res, result := handle(&req, body)
			reply(res, fmt.Sprintf("%s %x %s", req.Command, req.ActionID, result))
		})
	}
}

// open opens the store: a directory, or the server at a URL with a
// temporary directory for what is got from it.
func open(arg string) (err error) {
	if strings.HasPrefix(arg, "http://") {
		server, logFile = arg, io.Discard
		store, err = os.MkdirTemp("", "cacheprog-")
		return errors.Join(err, os.MkdirAll(filepath.Join(store, "o"), 0o777))
	}
	store, err = filepath.Abs(arg)
	for _, dir := range []string{"a", "o"} {
		err = errors.Join(err, os.MkdirAll(filepath.Join(store, dir), 0o777))
	}
	if err == nil {
		logFile, err = os.OpenFile(filepath.Join(store, "requests.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	}
	return err
}

func handle(req *request, body []byte) (*response, string) {
	if server != "" {
		return handleHTTP(req, body), ""
	}
	res, aid := &response{ID: req.ID}, hex.EncodeToString(req.ActionID) // hex keeps paths safe
	switch req.Command {
	case "get":
		var nsec int64
		data, err := os.ReadFile(filepath.Join(store, "a", aid))
		if err == nil {
			_, err = fmt.Sscanf(string(data), "%x %d %d", &res.OutputID, &res.Size, &nsec)
		}
		res.DiskPath = filepath.Join(store, "o", hex.EncodeToString(res.OutputID))
		if fi, serr := os.Stat(res.DiskPath); err != nil || serr != nil || fi.Size() != res.Size {
			return fromSeed(req)
		}
		t := time.Unix(0, nsec) // go clean -testcache compares against this
		res.Time = &t
		return res, "hit"
	case "put":
		res.DiskPath = filepath.Join(store, "o", hex.EncodeToString(req.OutputID))
		var err error
		if fi, serr := os.Stat(res.DiskPath); serr != nil || fi.Size() != int64(len(body)) {
			err = writeAtomic(res.DiskPath, body) // else reuse the identical body
		}
		if err == nil {
			entry := fmt.Sprintf("%x %d %d\n", req.OutputID, len(body), time.Now().UnixNano())
			err = writeAtomic(filepath.Join(store, "a", aid), []byte(entry))
		}
		if err != nil {
			return &response{ID: req.ID, Err: err.Error()}, "error"
		}
		return res, "put"
	}
	return &response{ID: req.ID, Err: "unknown command " + req.Command}, "error"
}

// writeAtomic creates path, readable by all, via a temporary file and rename.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op once renamed
	_, err = f.Write(data)
	if err = errors.Join(err, f.Chmod(0o444), f.Close()); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// reply logs logLine (if any) to requests.log, then sends res.
func reply(res *response, logLine string) {
	outMu.Lock()
	defer outMu.Unlock()
	if logLine != "" {
		fmt.Fprintln(logFile, logLine) // a single O_APPEND write
	}
	if err := enc.Encode(res); err != nil {
		log.Fatal(err)
	}
}

// fromSeed answers a get that the store misses from the seed go build
// cache: its entry <seed>/<xx>/<actionID>-a is "v1 <actionID> <outputID>
// <size> <unixnano>", and the output <seed>/<xx>/<outputID>-d.
func fromSeed(req *request) (*response, string) {
	miss := &response{ID: req.ID, Miss: true}
	if seed == "" || len(req.ActionID) == 0 {
		return miss, "miss"
	}
	aid := hex.EncodeToString(req.ActionID)
	data, err := os.ReadFile(filepath.Join(seed, aid[:2], aid+"-a"))
	if err != nil {
		return miss, "miss"
	}
	var id, out []byte
	var size, nsec int64
	if _, err := fmt.Sscanf(string(data), "v1 %x %x %d %d", &id, &out, &size, &nsec); err != nil || len(out) == 0 {
		return miss, "miss"
	}
	oid := hex.EncodeToString(out)
	path := filepath.Join(seed, oid[:2], oid+"-d")
	if fi, err := os.Stat(path); err != nil || fi.Size() != size {
		return miss, "miss"
	}
	t := time.Unix(0, nsec)
	return &response{ID: req.ID, OutputID: out, Size: size, Time: &t, DiskPath: path}, "seed"
}

// handleHTTP answers a request from the store's server.
func handleHTTP(req *request, body []byte) *response {
	res, url := &response{ID: req.ID}, server+"/"+hex.EncodeToString(req.ActionID)
	if req.Command == "put" {
		r, err := http.NewRequest("PUT", url, io.MultiReader(strings.NewReader(fmt.Sprintf("%x %d\n", req.OutputID, len(body))), strings.NewReader(string(body))))
		if err == nil {
			var resp *http.Response
			if resp, err = http.DefaultClient.Do(r); err == nil {
				resp.Body.Close()
			}
		}
		if err != nil {
			return &response{ID: req.ID, Err: err.Error()}
		}
		res.DiskPath = filepath.Join(store, "o", "put") // the go command does not read it
		return res
	}
	resp, err := http.Get(url)
	if err != nil {
		return &response{ID: req.ID, Err: err.Error()}
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return &response{ID: req.ID, Miss: true}
	}
	var r = bufio.NewReader(resp.Body)
	line, err := r.ReadString('\n')
	if err == nil {
		_, err = fmt.Sscanf(line, "%x %d", &res.OutputID, &res.Size)
	}
	if err == nil {
		res.DiskPath = filepath.Join(store, "o", hex.EncodeToString(res.OutputID))
		var data []byte
		if data, err = io.ReadAll(r); err == nil {
			err = writeAtomic(res.DiskPath, data)
		}
	}
	if err != nil {
		return &response{ID: req.ID, Err: fmt.Sprintf("%s: %v", url, err)}
	}
	return res
}
