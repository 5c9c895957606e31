// Package reliability holds TenantAtlas's cross-cutting reliability and security suites (issue #11):
// engines killed mid-run, schedules across restarts, a database restart under a live dashboard,
// the Graph fault matrix, hostile input and the authorization matrix of every Service method.
//
// It has no production code. `go test ./reliability` runs the default (CI-sized) variants;
// TENANTATLAS_RELIABILITY_FULL=1 runs the long ones. `go tool task reliability` runs everything,
// including the fuzz targets, and writes RELIABILITY.md (scripts/reliability).
//
// Tests report their figures as log lines "METRIC name value unit" that scripts/reliability collects.
package reliability
