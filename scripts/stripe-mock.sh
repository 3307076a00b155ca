#!/usr/bin/env bash
# stripe-mock, Stripe's official stateless mock (validates requests against Stripe's OpenAPI
# spec), for the shape of the Stripe calls localstripe does not implement (e.g. /v1/prices).
#
#   stripe-mock.sh build   go install the pinned release into the cache (once); prints the binary path
#   stripe-mock.sh path    print the binary path (building it first if needed)
#
# Tests start the binary themselves on a free loopback port (marketplace/tests/conftest.py).
# Environment: SERVICEBAY_CACHE (default ~/.cache/servicebay). Exit 3: Go is missing or the build failed.
set -euo pipefail

STRIPE_MOCK_VERSION=v0.203.0
CACHE=${SERVICEBAY_CACHE:-$HOME/.cache/servicebay}
BIN=$CACHE/stripe-mock/$STRIPE_MOCK_VERSION/bin

build() {
  if [[ -x $BIN/stripe-mock ]]; then echo "$BIN/stripe-mock"; return 0; fi
  command -v go >/dev/null || { echo "stripe-mock: Go is missing (needed to build stripe-mock)" >&2; exit 3; }
  mkdir -p "$BIN"
  echo "stripe-mock: building github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" >&2
  GOBIN=$BIN GOFLAGS=-mod=mod go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" >&2 \
    || { echo "stripe-mock: the build failed" >&2; exit 3; }
  echo "$BIN/stripe-mock"
}

case "${1:-build}" in
  build|path) build ;;
  *) echo "usage: $0 [build|path]" >&2; exit 2 ;;
esac
