// Package fleet holds the shared build cache that make bench-fleet runs:
// go-tool-cache's gocached server and go-cacher client, as tools of a
// module of their own, so that no program that uses go-selfcompile
// downloads them. The benchmark itself is BenchmarkFleet in the root
// package's tests.
package fleet
