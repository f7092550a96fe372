module github.com/shazow/go-selfcompile

go 1.26.0

require (
	github.com/klauspost/compress v1.20.3
	github.com/spf13/pflag v1.1.0
	golang.org/x/mod v0.42.0
	golang.org/x/sys v0.49.0
)

tool github.com/shazow/go-selfcompile/cmd/go-selfcompile
