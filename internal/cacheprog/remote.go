package cacheprog

// The shared cache: the user's cache program, started as a child and
// spoken to as the go command would, and dropped at its first failure.

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shazow/go-selfcompile/internal/proc"

	"github.com/shazow/go-selfcompile/internal/gocmd"
)

type remote struct {
	cfg    Config
	cmd    *exec.Cmd
	stderr tail
	ready  chan struct{} // closed once it has said what it can do, or failed
	can    map[string]bool
	exited chan struct{} // closed once its output has ended and it has been waited for

	wmu sync.Mutex // serializes writes to in
	in  io.WriteCloser
	bw  *bufio.Writer

	mu       sync.Mutex // guards the following
	nextID   int64
	inFlight map[int64]chan *response

	dead     chan struct{} // closed when it is dropped
	dropOnce sync.Once
	puts     sync.WaitGroup // puts being sent
	stopping atomic.Bool
	stopOnce sync.Once
}

// startRemote starts the shared cache program; a failure to start drops it.
func startRemote(cfg Config) *remote {
	r := &remote{cfg: cfg, ready: make(chan struct{}), exited: make(chan struct{}), dead: make(chan struct{}), inFlight: map[int64]chan *response{}}
	args, err := gocmd.SplitQuoted(cfg.Remote)
	if err == nil && len(args) == 0 {
		err = fmt.Errorf("names no program")
	}
	if err != nil {
		return r.notStarted(err)
	}
	r.cmd = proc.Command(context.Background(), args[0], args[1:]...)
	r.cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, Env+"=") || strings.HasPrefix(kv, "GOCACHEPROG=")
	})
	r.cmd.Stderr = &r.stderr
	out, err := r.cmd.StdoutPipe()
	if err == nil {
		r.in, err = r.cmd.StdinPipe()
	}
	if err == nil {
		err = r.cmd.Start()
	}
	if err != nil {
		return r.notStarted(err)
	}
	r.bw = bufio.NewWriter(r.in)
	caps := make(chan *response, 1)
	r.inFlight[0] = caps
	go r.read(out)
	go func() {
		defer close(r.ready)
		select {
		case res := <-caps:
			r.can = map[string]bool{}
			for _, c := range res.KnownCommands {
				r.can[c] = true
			}
		case <-time.After(cfg.Timeout):
			r.drop(fmt.Sprintf("did not say what it can do within %v", cfg.Timeout))
		case <-r.dead:
		}
	}()
	return r
}

// notStarted drops a cache program that could not be started.
func (r *remote) notStarted(err error) *remote {
	close(r.exited)
	close(r.ready)
	r.drop(fmt.Sprintf("cannot be started: %v", err))
	return r
}

// read reads the answers, hands each to its request, and drops the cache
// at the first thing that is not an answer to a request in flight.
func (r *remote) read(out io.Reader) {
	defer func() {
		r.cmd.Wait()
		close(r.exited)
	}()
	in := &answerReader{r: out}
	dec := json.NewDecoder(in)
	for {
		var res response
		in.left = maxAnswer
		if err := dec.Decode(&res); err != nil {
			if !r.stopping.Load() {
				r.drop(r.ended(err))
			}
			return
		}
		r.mu.Lock()
		ch, ok := r.inFlight[res.ID]
		delete(r.inFlight, res.ID)
		r.mu.Unlock()
		if !ok {
			r.drop(fmt.Sprintf("answered request %d, which it was not asked", res.ID))
			return
		}
		ch <- &res
	}
}

// ended says why the program's answers ended.
func (r *remote) ended(err error) string {
	select {
	case <-r.dead:
		return "was stopped"
	default:
	}
	why := "sent something that is not an answer: " + err.Error()
	if err == io.EOF {
		why = "exited"
	}
	if t := r.stderr.String(); t != "" {
		why += " (it printed: " + t + ")"
	}
	return why
}

// drop ends the use of the shared cache, once: requests in flight and
// later ones fail, the program is killed, and the reason is noted.
func (r *remote) drop(reason string) {
	r.dropOnce.Do(func() {
		note(r.cfg.Note, reason) // before a request that fails can end the build
		if r.cmd != nil {
			proc.Kill(r.cmd)
		}
		close(r.dead)
	})
}

// call sends a request, with the file body names as its body, and waits
// for its answer, dropping the cache if it fails or does not come in time.
func (r *remote) call(req *request, body string) (*response, bool) {
	<-r.ready // closed once r.can is set, or the cache dropped: never left open
	select {
	case <-r.dead:
		return nil, false
	default:
	}
	if !r.can[req.Command] {
		return nil, false
	}
	ch := make(chan *response, 1)
	r.mu.Lock()
	r.nextID++
	req.ID = r.nextID
	r.inFlight[req.ID] = ch
	r.mu.Unlock()
	timeout := r.timeout(req.BodySize)
	timer := time.AfterFunc(timeout, func() {
		r.drop(fmt.Sprintf("did not answer a %s within %v", req.Command, timeout))
	})
	defer timer.Stop()
	if err := r.send(req, body); err != nil {
		r.drop(fmt.Sprintf("could not be sent a %s: %v", req.Command, err))
		return nil, false
	}
	select {
	case res := <-ch:
		if res.Err != "" {
			r.drop(fmt.Sprintf("answered a %s with an error: %s", req.Command, res.Err))
			return nil, false
		}
		return res, true
	case <-r.dead:
		return nil, false
	}
}

// timeout is how long a request may take that sends or gets size bytes:
// a second a megabyte more than an answer.
func (r *remote) timeout(size int64) time.Duration {
	return r.cfg.Timeout + time.Duration(max(size, 0)>>20)*time.Second
}

// send writes a request and its body, a base64 JSON string on the next
// line.
func (r *remote) send(req *request, body string) error {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if err := json.NewEncoder(r.bw).Encode(req); err != nil {
		return err
	}
	if req.BodySize > 0 {
		f, err := os.Open(body)
		if err != nil {
			return err
		}
		defer f.Close()
		r.bw.WriteByte('"')
		enc := base64.NewEncoder(base64.StdEncoding, r.bw)
		if _, err := io.Copy(enc, f); err != nil {
			return err
		}
		enc.Close()
		r.bw.WriteString("\"\n")
	}
	return r.bw.Flush()
}

// get asks the shared cache for an action's output and, if it has it,
// copies it into the local cache, checking that it is what it claims.
func (r *remote) get(action []byte, local store) (entry, bool) {
	if r == nil {
		return entry{}, false
	}
	start := time.Now()
	res, ok := r.call(&request{Command: "get", ActionID: action}, "")
	if !ok || res.Miss {
		return entry{}, false
	}
	// Its output is read within the time of the call, as a body is sent:
	// a read that does not end there is given up, and the cache dropped.
	limit := r.timeout(res.Size)
	done := make(chan error, 1)
	go func() { done <- local.adopt(action, res.OutputID, res.Size, res.DiskPath, r.dead) }()
	timer := time.NewTimer(limit - time.Since(start))
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			r.drop(fmt.Sprintf("returned an output that cannot be used: %v", err))
			return entry{}, false
		}
	case <-timer.C:
		r.drop(fmt.Sprintf("returned an output that could not be read within %v", limit))
		return entry{}, false
	}
	return local.get(action)
}

// put sends an output that the local cache stored at path to the shared
// cache, in the background; stop waits for it.
func (r *remote) put(action, output []byte, path string, size int64) {
	if r == nil {
		return
	}
	r.puts.Go(func() {
		r.call(&request{Command: "put", ActionID: action, OutputID: output, BodySize: size}, path)
	})
}

// stop waits for the puts being sent, closes the program as the go
// command would, and kills it if it does not exit in time.
func (r *remote) stop() {
	if r == nil || r.cmd == nil {
		return
	}
	r.stopOnce.Do(func() {
		r.puts.Wait()
		r.stopping.Store(true) // its end is no failure now
		<-r.ready              // r.can is set, or nil if the cache dropped first
		if r.can["close"] {
			r.mu.Lock()
			r.nextID++
			id := r.nextID
			r.inFlight[id] = make(chan *response, 1) // an answer it need not give
			r.mu.Unlock()
			r.send(&request{ID: id, Command: "close"}, "")
		}
		r.wmu.Lock()
		r.in.Close()
		r.wmu.Unlock()
		select {
		case <-r.exited:
		case <-time.After(r.cfg.Timeout):
			r.drop(fmt.Sprintf("did not exit within %v of being closed", r.cfg.Timeout))
			<-r.exited
		}
		proc.Kill(r.cmd) // what it may have left running
	})
}

// maxAnswer bounds an answer of the shared cache: its data is in files,
// and an answer names them.
const maxAnswer = 1 << 20

// answerReader reads the answers of the shared cache, and fails once one
// goes on for more than left bytes, which the reader sets before each.
type answerReader struct {
	r    io.Reader
	left int64
}

func (a *answerReader) Read(p []byte) (int, error) {
	if a.left <= 0 {
		return 0, fmt.Errorf("an answer longer than %d bytes", maxAnswer)
	}
	if int64(len(p)) > a.left {
		p = p[:a.left]
	}
	n, err := a.r.Read(p)
	a.left -= int64(n)
	return n, err
}

// tail keeps the last bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if n := len(t.buf); n > 512 {
		t.buf = t.buf[n-512:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(strings.Fields(string(t.buf)), " ")
}
