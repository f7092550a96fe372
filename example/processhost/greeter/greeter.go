// Package greeter is the interface that processhost's process plugins
// serve, with go-plugin's handshake and plugin map: the host dispenses it
// from a plugin's process, and a plugin's main calls Serve.
package greeter

import (
	"net/rpc"

	"github.com/hashicorp/go-plugin"
)

// Greeter greets someone.
type Greeter interface {
	Greet(name string) (string, error)
}

// Kind is the Greeter's name in the plugin map.
const Kind = "greeter"

// Handshake is what the host and its plugins check of each other before
// they talk: a plugin built for another host, or run by hand, stops.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "PROCESSHOST_PLUGIN",
	MagicCookieValue: "greeter",
}

// Plugins is the host's plugin map.
var Plugins = plugin.PluginSet{Kind: &Plugin{}}

// Serve serves g as a plugin of the host: a plugin's main calls it.
func Serve(g Greeter) {
	plugin.Serve(&plugin.ServeConfig{HandshakeConfig: Handshake, Plugins: plugin.PluginSet{Kind: &Plugin{Impl: g}}})
}

// Plugin is the Greeter over net/rpc: Impl in the plugin's process, a
// client of it in the host's.
type Plugin struct{ Impl Greeter }

// Server returns the RPC server of Impl, in the plugin's process.
func (p *Plugin) Server(*plugin.MuxBroker) (any, error) { return &server{p.Impl}, nil }

// Client returns a Greeter that calls the plugin, in the host's process.
func (*Plugin) Client(_ *plugin.MuxBroker, c *rpc.Client) (any, error) { return &client{c}, nil }

type server struct{ g Greeter }

func (s *server) Greet(name string, reply *string) (err error) {
	*reply, err = s.g.Greet(name)
	return err
}

type client struct{ c *rpc.Client }

func (c *client) Greet(name string) (reply string, err error) {
	err = c.c.Call("Plugin.Greet", name, &reply)
	return reply, err
}
