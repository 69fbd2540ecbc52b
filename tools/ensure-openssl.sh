#!/usr/bin/env bash
# Installs Debian's openssl CLI when it is missing: the tests make RSA keys
# with it (tests/src/keys.rs) as a partner would make theirs.
set -euo pipefail

if command -v openssl >/dev/null; then
    exit 0
fi
echo "installing the openssl CLI (Debian package openssl) for the tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq openssl >&2
command -v openssl >/dev/null || {
    echo "openssl installed but not on the PATH" >&2
    exit 1
}
