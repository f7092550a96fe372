module github.com/shazow/go-selfcompile/plugincmd/cobraplugin

go 1.26.0

require (
	github.com/shazow/go-selfcompile v0.0.0
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/klauspost/compress v1.17.11 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/mod v0.20.0 // indirect
	golang.org/x/sys v0.30.0 // indirect
)

replace github.com/shazow/go-selfcompile => ../..
