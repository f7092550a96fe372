#!/usr/bin/env bash
# bench/process.sh: what installing a process plugin costs on
# example/processhost, against a compiled-in install of the same code and
# against a plain go build of the plugin, timed from outside (bash),
# alternating, median of ROUNDS (default 3), with warm caches.
#
# Each round changes the plugin's code (a new variable), so that it
# compiles and links again:
#   floor:       go build -trimpath of plugins/hello, its output removed
#   process:     processhost plugin add --process plugins/hello (its own
#                executable, linked alone)
#   compiled-in: processhost plugin add ./plugN, a package with the same
#                greeting, registered in init (the host's binary linked again)
#
# Run from the repository's root: bash bench/process.sh
set -euo pipefail
ROUNDS=${ROUNDS:-3}
root=$(pwd)
mkdir -p build
work=$(mktemp -d "$root/build/process-XXXXXX")
[ -n "${KEEP:-}" ] || trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
modcache=$(go env GOMODCACHE) gocache=$(go env GOCACHE)
GOMODCACHE=$modcache go mod download github.com/spf13/pflag@v1.0.6
export HOME=$work/home XDG_CACHE_HOME=$work/home/cache
mkdir -p "$HOME"
# The plugin's pflag v1.0.6 is not in the host's bundle: a file proxy of
# this machine's module cache serves it, as a vendor's GOPROXY would.
proxy="GOPROXY=file://$modcache/cache/download"

git clone -q "$root" "$work/repo"
host=$work/repo/example/processhost
hello=$host/plugins/hello
bin=$work/bin/processhost
(cd "$host" && GOMODCACHE=$modcache GOCACHE=$gocache go generate . >/dev/null 2>&1 &&
	GOMODCACHE=$modcache GOCACHE=$gocache go build -trimpath -ldflags "-X main.version=dev" -o "$bin" .) # the -X its installs give

plugin() { # plugin N: a compiled-in plugin with hello's greeting
	local d=$work/plug$1
	mkdir -p "$d"
	printf 'module example.com/plug%s\n\ngo 1.22\n' "$1" >"$d/go.mod"
	printf 'package plug%s\n\nimport "fmt"\n\nvar changed%s = %s\n\nfunc greet(name string) string { return fmt.Sprintf("hello %%s, compiled in", name) }\n\nfunc init() { _ = greet }\n' "$1" "$1" "$1" >"$d/p.go"
	echo "$d"
}
change() { printf 'package main\n\nvar changed_%s = "%s"\n' "$1" "$1" >"$hello/zz_changed.go"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f\n", b - a }'; }
floor() {
	change "f$1"
	rm -f "$work/floor"
	local t0; t0=$(now)
	(cd "$hello" && GOMODCACHE=$modcache GOCACHE=$gocache GOFLAGS=-mod=mod go build -trimpath -o "$work/floor" .)
	since "$t0"
}
process() {
	change "p$1"
	sync
	local t0; t0=$(now)
	env "$proxy" "$bin" plugin add --process "$hello" >"$work/process$1.log" 2>&1 ||
		{ cat "$work/process$1.log" >&2; exit 1; }
	since "$t0"
}
compiled() {
	local d; d=$(plugin "$1")
	sync
	local t0; t0=$(now)
	env "$proxy" "$bin" plugin add "$d" >"$work/compiled$1.log" 2>&1 ||
		{ cat "$work/compiled$1.log" >&2; exit 1; }
	since "$t0"
}
# The first of each fills the caches.
floor 0 >/dev/null; process 0 >/dev/null; compiled 0 >/dev/null
fl=(); pr=(); co=()
for i in $(seq 1 "$ROUNDS"); do
	fl+=("$(floor "$i")")
	pr+=("$(process "$i")")
	co+=("$(compiled "$i")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mf=$(median "${fl[@]}"); mp=$(median "${pr[@]}"); mc=$(median "${co[@]}")
echo "floor (go build -trimpath of the plugin): ${fl[*]} s; median $mf s"
echo "process plugin install:                   ${pr[*]} s; median $mp s ($(ratio "$mp" "$mf")x the floor)"
echo "compiled-in install of the same code:     ${co[*]} s; median $mc s ($(ratio "$mc" "$mf")x the floor)"
echo "process against compiled-in: $(ratio "$mp" "$mc")x"
echo "plugin executable: $(stat -c %s "$work/bin/processhost.plugins/hello") bytes; host binary: $(stat -c %s "$bin") bytes"
