#!/usr/bin/env bash
# Installs Debian's PostgreSQL server programs when they are missing, so that
# the tests can start their throwaway clusters (tests/src/postgres.rs). The
# tests never use a cluster of the machine's own.
set -euo pipefail

if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    exit 0
fi
echo "installing PostgreSQL (Debian package postgresql) for the tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq postgresql >&2
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || {
    echo "postgresql installed but no /usr/lib/postgresql/*/bin/initdb found" >&2
    exit 1
}
