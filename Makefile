# go-selfcompile: the end-to-end example and the tests.
#
#   make example-aplugin   generate and build example-abinary, install example/aplugin
#                          into it offline (GOPROXY=off), and run it
#   make test              vet, then both tiers of tests: go test -tags e2e ./...
#                          (go test ./... alone is the fast tier, the unit tests;
#                          the end-to-end tests build with the tag e2e)
#   make fuzz              short fuzz runs of the spec parser and the bundle reader (CI runs it)
#   make test-cross        vet for windows/amd64 and darwin/arm64, and the example
#                          cross-built for darwin/arm64 and inspected (CI runs it)
#   make test-arm64        the linux/arm64 build installs a plugin under qemu-user
#                          (installs Debian's qemu-user-static where it is missing; root)
#   make test-windows      the windows/amd64 build installs, lists, removes and rolls
#                          back plugins under Wine, and example/processhost's installs
#                          and runs a process plugin (installs Debian's wine64 and
#                          MinGW-w64 where they are missing; root)
#   make bench             the benchmark table of BENCHMARKS.md
#   make bench-repeat      a repeat install on example-abinary against its warm floor,
#                          timed from outside (bash), alternating, median of three
#   make bench-process     installing a process plugin (example/processhost) against a
#                          compiled-in install of the same code and a go build of it
#   make bench-large       the large-host benchmark (caddy, downloaded; not in CI)
#   make bench-large-placements
#                          its rows of the bundles' placements alone
#   make bench-fleet       ten fresh machines install caddy plugins through a shared
#                          build cache (gocached, go-cacher; downloaded; not in CI)
#   make test-hosts        generate, without compiling, for real programs with large
#                          module graphs, and list them offline from the bundle alone
#                          (downloads them; not in CI)

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
PLUGIN  ?= github.com/shazow/go-selfcompile/example/aplugin
# Fuzz budgets are counts of executions, not durations: a -fuzztime
# duration races the fuzz coordinator's own deadline on a loaded machine and
# fails with "context deadline exceeded" though nothing was found
# (go.dev/issue/75804, fixed in Go 1.27).
FUZZTIME ?= 15000x
# The fuzzer minimizes each input that finds new coverage, not only a
# failing one, for up to this budget: at a duration (5 s) that was most of
# a run (a minute), and the corpus it shrinks is not kept. A failing input
# is still reported, and written to testdata/fuzz, whatever its size.
FUZZMINIMIZE ?= 200x

.PHONY: all example-aplugin example-abinary generate test fuzz test-cross test-arm64 test-windows test-hosts bench bench-repeat bench-process bench-large bench-large-placements bench-fleet clean

all: example-abinary

# go generate runs the //go:generate line of example/abinary: go tool
# go-selfcompile, the generator this module's go.mod names.
generate:
	$(GO) generate ./example/abinary

example-abinary: generate
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o build/example-abinary ./example/abinary

example-aplugin: example-abinary
	./build/example-abinary
	GOPROXY=off ./build/example-abinary --plugin $(PLUGIN)
	./build/example-abinary

# The second vet line checks the files of the build tags: e2e (the
# end-to-end tests) and selfcompile_failpoint (failpoints, compiled into
# the hosts of the tests that stop an install; see internal/failpoint).
test:
	$(GO) vet ./...
	$(GO) vet -tags e2e,selfcompile_failpoint . ./internal/failpoint
	cd example/cobrahost && $(GO) vet ./...
	cd example/takeover && $(GO) vet ./...
	cd example/processhost && $(GO) vet ./...
	cd plugincmd/cobraplugin && $(GO) vet ./... && $(GO) test ./...
	cd processplugin && $(GO) vet ./... && $(GO) test ./...
	$(GO) test -tags e2e -timeout 30m ./...

# Fuzzing compiles the standard library again, instrumented: most of its
# time. make test runs the fuzz targets' seed corpora as tests.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzSplit$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) ./internal/spec
	$(GO) test -run '^$$' -fuzz '^FuzzReader$$' -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZE) ./internal/bundle

# The checks that compile the standard library for other targets. The
# darwin/arm64 vet runs with the flags of TestCrossTargets' darwin build
# (-trimpath, no cgo): that build then links what the vet compiled.
test-cross:
	GOOS=windows GOARCH=amd64 $(GO) vet ./...
	GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 $(GO) vet -trimpath ./...
	SELFCOMPILE_TEST_CROSS=1 $(GO) test -tags e2e -run '^TestCrossTargets$$' -timeout 30m -v .

# binfmt_misc runs linux/arm64 programs, and the programs they start, with
# qemu-aarch64-static: the installer starts the arm64 go command it carries.
QEMU_MAGIC = \x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00
QEMU_MASK  = \xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff

test-arm64:
	command -v qemu-aarch64-static >/dev/null || (apt-get update && apt-get install -y qemu-user-static)
	test -e /proc/sys/fs/binfmt_misc/register || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
	grep -q enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || echo 1 > /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null || printf '%s' ':qemu-aarch64:M::$(QEMU_MAGIC):$(QEMU_MASK):/usr/bin/qemu-aarch64-static:F' > /proc/sys/fs/binfmt_misc/register
	$(GO) test -tags e2e -run '^TestArm64UnderQemu$$' -timeout 60m -v .

# apt's signature check runs as the _apt user, which cannot write /tmp on
# these machines (mode 0755): it is given a temporary directory it can.
APT = mkdir -p build/apt && chmod 1777 build/apt && TMPDIR=$(CURDIR)/build/apt DEBIAN_FRONTEND=noninteractive apt-get

test-windows:
	test -x /usr/lib/wine/wine64 && command -v x86_64-w64-mingw32-gcc >/dev/null || ($(APT) update -qq && $(APT) install -y -qq --no-install-recommends wine64 gcc-mingw-w64-x86-64-win32)
	SELFCOMPILE_TEST_WINDOWS=1 $(GO) test -tags e2e -run '^TestWindows(UnderWine|ProcessPlugin)$$' -timeout 60m -v .

test-hosts:
	SELFCOMPILE_TEST_HOSTS=1 $(GO) test -run '^TestRealHosts$$' -timeout 120m -v .

bench:
	$(GO) test -run '^$$' -bench '^(BenchmarkInstall|BenchmarkTargets|BenchmarkPlacements)$$' -benchtime 1x -timeout 60m .

bench-repeat:
	bash bench/repeat.sh

bench-process:
	bash bench/process.sh

bench-large:
	SELFCOMPILE_BENCH_LARGE=1 $(GO) test -run '^$$' -bench '^BenchmarkLargeHost$$' -benchtime 1x -timeout 180m .

bench-large-placements:
	SELFCOMPILE_BENCH_LARGE=placements $(GO) test -run '^$$' -bench '^BenchmarkLargeHost$$' -benchtime 1x -timeout 120m .

# The shared cache's server and client come from the module bench/fleet.
bench-fleet:
	SELFCOMPILE_BENCH_FLEET=1 $(GO) test -run '^$$' -bench '^BenchmarkFleet$$' -benchtime 1x -timeout 120m .

clean:
	rm -rf build example/*/selfcompilebundle example/*/selfcompile_plugins.*
