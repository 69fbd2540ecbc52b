#!/usr/bin/env bash
# Installs Debian's Chromium when it is missing, for the review console's
# browser tests (tests/browser/), and prints its path.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
    echo "installing Chromium (Debian package chromium) for the browser tests" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends chromium >&2
fi
[ -x "$CHROMIUM" ] || { echo "chromium installed but $CHROMIUM is missing" >&2; exit 1; }
echo "$CHROMIUM"
