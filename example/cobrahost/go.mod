module github.com/shazow/go-selfcompile/example/cobrahost

go 1.26.0

require (
	github.com/shazow/go-selfcompile v0.0.0
	github.com/shazow/go-selfcompile/plugincmd/cobraplugin v0.0.0
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/mod v0.42.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
)

replace github.com/shazow/go-selfcompile => ../..

replace github.com/shazow/go-selfcompile/plugincmd/cobraplugin => ../../plugincmd/cobraplugin

tool github.com/shazow/go-selfcompile/cmd/go-selfcompile
