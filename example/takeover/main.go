// Command takeover is a long-running HTTP server, built without cgo, that
// gains plugins without refusing a connection. Its plugin command changes
// the binary on disk; on SIGHUP (systemctl reload) the new binary takes
// over the listening socket, passed to it by cloudflare/tableflip, and the
// old process finishes the requests it has and exits.
//
//	$ takeover -addr 127.0.0.1:8080 -pidfile /run/takeover.pid &
//	$ takeover plugin add ./hello-plugin
//	$ kill -HUP "$(cat /run/takeover.pid)"
//	$ curl 127.0.0.1:8080/hello
//
// Every response names the process that served it and the handlers that
// plugins registered. Under systemd: ExecReload=/bin/kill -HUP $MAINPID
// with PIDFile=, as tableflip's documentation says.
package main

//go:generate go tool go-selfcompile

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cloudflare/tableflip"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/example/takeover/handlers"
	"github.com/shazow/go-selfcompile/plugincmd"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "plugin" {
		plugincmd.Main(os.Args[2:], selfcompile.SelfCompile{})
	}
	addr := flag.String("addr", "127.0.0.1:8080", "the address to serve on")
	pidFile := flag.String("pidfile", "", "where to write the process ID of the process that serves")
	flag.Parse()
	if err := serve(*addr, *pidFile); err != nil {
		log.Fatal(err)
	}
}

// serve serves until a new process has taken over, then drains.
func serve(addr, pidFile string) error {
	upg, err := tableflip.New(tableflip.Options{PIDFile: pidFile})
	if err != nil {
		return err
	}
	defer upg.Stop()
	go func() {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		for range hup {
			if err := upg.Upgrade(); err != nil { // starts os.Args[0]: the new binary
				log.Println("the new binary did not take over:", err)
			}
		}
	}()
	ln, err := upg.Listen("tcp", addr)
	if err != nil {
		return err
	}
	var conns sync.WaitGroup // connections this process has accepted and not closed
	srv := &http.Server{Handler: http.HandlerFunc(handle), ConnState: func(_ net.Conn, s http.ConnState) {
		switch s {
		case http.StateNew:
			conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			conns.Done()
		}
	}}
	served := make(chan struct{}) // closed when Serve has returned
	go func() { srv.Serve(ln); close(served) }()
	if err := upg.Ready(); err != nil {
		return err
	}
	<-upg.Exit()
	return drain(srv, ln, served, &conns)
}

// drain stops accepting and lets every connection this process accepted
// finish its request. It does not start with http.Server.Shutdown: that
// drops a request read after it began (the connection closes without an
// answer), and a connection accepted just before the new process took over
// may not have sent its request yet. It counts the connections once Serve
// has returned: Serve counts each one it accepts (StateNew) before it
// accepts the next, so none accepted just before the close is missed.
func drain(srv *http.Server, ln net.Listener, served <-chan struct{}, conns *sync.WaitGroup) error {
	srv.SetKeepAlivesEnabled(false) // each connection closes after its answer
	ln.Close()                      // the socket stays open in the new process
	<-served
	finished := make(chan struct{})
	go func() { conns.Wait(); close(finished) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case <-finished:
	case <-ctx.Done():
	}
	err := srv.Shutdown(ctx) // closes what is left after 30 seconds
	if errors.Is(err, net.ErrClosed) {
		return nil // the listener, closed above
	}
	return err
}

func handle(w http.ResponseWriter, r *http.Request) {
	if h, ok := handlers.Get(strings.TrimPrefix(r.URL.Path, "/")); ok {
		h.ServeHTTP(w, r)
		return
	}
	fmt.Fprintf(w, "pid %d handlers [%s]\n", os.Getpid(), strings.Join(handlers.Names(), " "))
}
