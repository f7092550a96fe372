module github.com/shazow/go-selfcompile/example/takeover

go 1.26.0

require (
	github.com/cloudflare/tableflip v1.2.3
	github.com/shazow/go-selfcompile v0.0.0
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/spf13/pflag v1.1.0 // indirect
	golang.org/x/mod v0.42.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/shazow/go-selfcompile => ../..

tool github.com/shazow/go-selfcompile/cmd/go-selfcompile
