#!/usr/bin/env bash
# The main job on a fresh machine: `make demo` (this script's `up`).
#
#   up       build, start the registry on demo/registry.db, create a token,
#            then terraform init + apply examples/quickstart and show the result
#   destroy  terraform destroy the quickstart (offboards the orgs, revokes clients)
#   stop     stop the registry started by `up`
#
# Everything it makes lives in the git-ignored demo/ folder ($DEMO_DIR when
# set). DEMO_SKIP_BUILD=1 uses the binaries already built (the tests do).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
demo="${DEMO_DIR:-$root/demo}"
target="${CARGO_TARGET_DIR:-$root/target}/debug"
registry="$target/partner-registry"

terraform_in_demo() {
    TF_CLI_CONFIG_FILE="$demo/terraformrc" \
    PARTNER_REGISTRY_ENDPOINT="$(cat "$demo/endpoint")" \
    PARTNER_REGISTRY_TOKEN="$(cat "$demo/token")" \
    CHECKPOINT_DISABLE=1 \
        "$terraform" -chdir="$demo/quickstart" "$@"
}

registry_running() {
    [ -f "$demo/registry.pid" ] && kill -0 "$(cat "$demo/registry.pid")" 2>/dev/null
}

start_registry() {
    if registry_running; then
        echo "registry already running at $(cat "$demo/endpoint")"
        return
    fi
    : > "$demo/registry.out"
    nohup "$registry" serve --listen 127.0.0.1:0 --db "$demo/registry.db" \
        > "$demo/registry.out" 2> "$demo/registry.log" < /dev/null &
    echo $! > "$demo/registry.pid"
    for _ in $(seq 1 100); do
        line=$(head -n 1 "$demo/registry.out")
        if [[ "$line" == "listening on "* ]]; then
            echo "${line#listening on }" > "$demo/endpoint"
            echo "registry listening on $(cat "$demo/endpoint") (log: demo/registry.log)"
            return
        fi
        registry_running || break
        sleep 0.1
    done
    echo "the registry did not start; its log:" >&2
    cat "$demo/registry.log" >&2
    exit 1
}

case "${1:-up}" in
up)
    terraform=$("$root/tools/ensure-terraform.sh")
    if [ "${DEMO_SKIP_BUILD:-}" != 1 ]; then
        (cd "$root" && cargo build --workspace --bins)
    fi
    mkdir -p "$demo/quickstart"
    cp "$root"/examples/quickstart/*.tf "$demo/quickstart/"
    # Install the provider the way a user's `terraform init` does, from a
    # local filesystem mirror (no network needed), rather than dev_overrides.
    version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/provider/Cargo.toml" | head -n 1)
    case "$(uname -m)" in
        x86_64) arch=amd64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) arch=$(uname -m) ;;
    esac
    platform="$(uname -s | tr '[:upper:]' '[:lower:]')_$arch"
    package="$demo/mirror/registry.terraform.io/partner-registry/partner/$version/$platform"
    rm -rf "$demo/mirror" "$demo/quickstart/.terraform" "$demo/quickstart/.terraform.lock.hcl"
    mkdir -p "$package"
    cp "$target/terraform-provider-partner" "$package/terraform-provider-partner_v$version"
    cat > "$demo/terraformrc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$demo/mirror"
    include = ["registry.terraform.io/partner-registry/partner"]
  }
  direct {
    exclude = ["registry.terraform.io/partner-registry/partner"]
  }
}
RC
    start_registry
    if [ ! -s "$demo/token" ]; then
        "$registry" token create --db "$demo/registry.db" --name demo-admin --role admin > "$demo/token"
    fi
    terraform_in_demo init -input=false
    terraform_in_demo apply -auto-approve -input=false
    echo
    echo "== client ids (secrets: terraform -chdir=demo/quickstart output client_secrets)"
    terraform_in_demo output client_ids
    echo
    echo "== entitlement review (partner-registry review --db demo/registry.db)"
    "$registry" review --db "$demo/registry.db" --format text
    echo
    echo "Destroy the partners (offboard orgs, revoke clients): make demo-destroy"
    echo "Stop the registry:                                     make demo-stop"
    ;;
destroy)
    terraform=$("$root/tools/ensure-terraform.sh")
    registry_running || start_registry
    terraform_in_demo destroy -auto-approve -input=false
    ;;
stop)
    if registry_running; then
        kill "$(cat "$demo/registry.pid")"
        echo "registry stopped"
    else
        echo "registry not running"
    fi
    rm -f "$demo/registry.pid"
    ;;
*)
    echo "usage: $0 up|destroy|stop" >&2
    exit 2
    ;;
esac
