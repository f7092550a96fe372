# go-selfcompile: the end-to-end example and the tests.
#
#   make example-aplugin   build the generator, generate and build example-abinary,
#                          install example/aplugin into it offline, and run it
#   make test              vet, run every test, fuzz the bundle reader and the
#                          plugin-spec parser for $(FUZZTIME) each
#   make bench             print the benchmark table

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PLUGIN  ?= github.com/shazow/go-selfcompile/example/aplugin

.PHONY: all example-aplugin example-abinary generate test bench clean

all: example-abinary

build/go-selfcompile: FORCE
	$(GO) build -o $@ ./cmd/go-selfcompile

# go generate runs the //go:generate go-selfcompile line of example/abinary,
# with the generator just built first on PATH.
generate: build/go-selfcompile
	PATH="$(CURDIR)/build:$$PATH" $(GO) generate ./example/abinary

example-abinary: generate
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o build/example-abinary ./example/abinary

example-aplugin: example-abinary
	./build/example-abinary
	GOPROXY=off ./build/example-abinary --plugin $(PLUGIN)
	./build/example-abinary

FUZZTIME ?= 10s

test:
	$(GO) vet ./...
	$(GO) test -timeout 30m ./...
	$(GO) test -run '^$$' -fuzz '^FuzzParseSpec$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s .
	$(GO) test -run '^$$' -fuzz '^FuzzBundleReader$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s .

bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m .

clean:
	rm -rf build example/abinary/selfcompile.bundle example/abinary/selfcompile_bundle.go

FORCE:
