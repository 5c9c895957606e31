#!/usr/bin/env bash
# golangci-lint with the repository's .golangci.yml. The linter is built from source through the Go
# module proxy at a pinned version (no binary download), once, into a cache directory outside the
# repository; later runs reuse that binary. It is not a tool dependency in go.mod because its module
# graph would pull some hundred modules into ours.
#
#   scripts/lint.sh            lint the whole module
#   scripts/lint.sh ./store/...  lint some packages
set -euo pipefail
cd "$(dirname "$0")/.."

version=v2.15.0
cache="${TENANTATLAS_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tenantatlas/tools}/golangci-lint-$version"
bin="$cache/golangci-lint"
if [ ! -x "$bin" ]; then
	echo "building golangci-lint $version into $cache"
	mkdir -p "$cache"
	# GOFLAGS from the caller (e.g. -mod=vendor) must not leak into a build outside this module.
	GOBIN="$cache" GOFLAGS=-buildvcs=false go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$version"
fi
if [ $# -eq 0 ]; then
	set -- ./...
fi
exec "$bin" run "$@"
