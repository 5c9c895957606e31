// Package archtest holds the architecture test: every dependency rule of the repository's layout in
// one table (arch_test.go), checked against `go list` and the source on every `go test ./...`.
// It has no non-test code.
package archtest
