#!/usr/bin/env bash
# The main job on a fresh machine: `make demo` (this script's `up`).
#
#   up       build, start the registry on demo/registry.db, create a token,
#            then terraform init + apply examples/quickstart and show the result
#   destroy  terraform destroy the quickstart (offboards the orgs, revokes clients)
#   stop     stop the registry started by `up`
#
# Everything it makes lives in the git-ignored demo/ folder.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
demo="$root/demo"
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
    (cd "$root" && cargo build --workspace --bins)
    mkdir -p "$demo/quickstart"
    cp "$root"/examples/quickstart/*.tf "$demo/quickstart/"
    cat > "$demo/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "partner-registry/partner" = "$target"
  }
  direct {}
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
