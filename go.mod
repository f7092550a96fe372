module github.com/shazow/go-selfcompile

go 1.26.0

require (
	github.com/klauspost/compress v1.17.11
	github.com/spf13/pflag v1.0.5
	golang.org/x/mod v0.20.0
	golang.org/x/sys v0.30.0
)

tool github.com/shazow/go-selfcompile/cmd/go-selfcompile
