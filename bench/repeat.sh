#!/usr/bin/env bash
# bench/repeat.sh: a repeat install on example-abinary against its warm
# floor, timed from outside as a user would (bash), in one run, alternating
# the two so that a drift of the machine's speed hits both alike.
#
# The floor is a go build -trimpath of the same program, with the same
# bundle and -ldflags, after a change to main's code (a new variable, so
# that main's object changes) and with its output removed (go build -o
# skips the link of an output that is up to date). A repeat install adds a
# new local plugin, so main and the plugin compile. Each is run ROUNDS
# times (default 3); the medians and their ratio are printed, with where
# the install's time went (its progress events).
#
# Run from the repository's root: bash bench/repeat.sh
set -euo pipefail
ROUNDS=${ROUNDS:-3}
root=$(pwd)
mkdir -p build
work=$(mktemp -d "$root/build/repeat-XXXXXX")
[ -n "${KEEP:-}" ] || trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
modcache=$(go env GOMODCACHE) gocache=$(go env GOCACHE)
export HOME=$work/home XDG_CACHE_HOME=$work/home/cache
mkdir -p "$HOME"
ldflags="-X main.version=bench"

git clone -q "$root" "$work/repo"
cd "$work/repo"
GOMODCACHE=$modcache GOCACHE=$gocache go generate ./example/abinary >/dev/null
floorcache=$work/floorcache
bin=$work/bin/example-abinary
GOMODCACHE=$modcache GOCACHE=$floorcache go build -trimpath -ldflags "$ldflags" -o "$bin" ./example/abinary
# A first install fills the installer's caches.
GOPROXY=off "$bin" plugin add github.com/shazow/go-selfcompile/example/aplugin >"$work/first.log" 2>&1 ||
	{ cat "$work/first.log"; exit 1; }

plugin() { # plugin N: a new local plugin module, its directory printed
	local d=$work/plug$1
	mkdir -p "$d"
	printf 'module example.com/plug%s\n\ngo 1.22\n' "$1" >"$d/go.mod"
	printf 'package plug%s\n\nimport "fmt"\n\nfunc init() { fmt.Println("plug%s") }\n' "$1" "$1" >"$d/p.go"
	echo "$d"
}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f\n", b - a }'; }
floor() { # floor N: main changed, output removed, built
	printf 'package main\n\nvar changed%s = %s\n' "$1" "$1" >example/abinary/zz_changed.go
	rm -f "$work/floor"
	local t0; t0=$(now)
	GOMODCACHE=$modcache GOCACHE=$floorcache go build -trimpath -ldflags "$ldflags" -o "$work/floor" ./example/abinary
	since "$t0"
}
floor 0 >/dev/null # warms the floor's cache with the plugin-less main
install() { # install N
	local d; d=$(plugin "$1")
	sync
	local t0; t0=$(now)
	GOPROXY=off GO_SELFCOMPILE_PROGRESS=1 "$bin" plugin add "$d" 2>"$work/install$1.log" >/dev/null ||
		{ cat "$work/install$1.log" >&2; exit 1; }
	since "$t0"
}
fl=(); in=()
for i in $(seq 1 "$ROUNDS"); do
	fl+=("$(floor "$i")")
	in+=("$(install "$i")")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mf=$(median "${fl[@]}"); mi=$(median "${in[@]}")
echo "floor (go build -trimpath, main changed): ${fl[*]} s; median $mf s"
echo "repeat install (a new local plugin):      ${in[*]} s; median $mi s"
echo "ratio: $(awk -v a="$mi" -v b="$mf" 'BEGIN { printf "%.3f", a / b }')"
echo "floor's binary: $(stat -c %s "$work/floor") bytes; installed binary: $(stat -c %s "$bin") bytes"
echo "stages of the last install:"
grep -E '\] \w+: done in' "$work/install$ROUNDS.log" | sed 's/.*\] /  /'
