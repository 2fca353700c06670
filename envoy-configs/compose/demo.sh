#!/bin/sh
# One command to see trustgate work in the local mesh:
#   sh envoy-configs/compose/demo.sh
# Starts the mesh (building images as needed), makes calls between services and prints each decision,
# triggers a Falco rule inside the `order` container, then repeats the calls so the denies show.
set -eu
cd "$(dirname "$0")/../.."
DEMO_IMAGE=node:20.20.2-alpine
RUNNER="$(pwd)/envoy-configs/compose/demo/run-demo.mjs"

if [ ! -f wasm-filter/build/trustgate_filter.wasm ]; then
  echo "building the wasm filter (npm ci && npm run build:wasm) ..."
  npm ci --no-audit --no-fund >/dev/null && npm run --silent build:wasm
fi

docker compose up -d --build

# as <workload> <args...>: run the demo runner inside that workload's network namespace (its identity).
as() {
  who="$1"; shift
  docker run --rm --network "container:$who" -e "CALLER=$who" -v "$RUNNER:/demo/run-demo.mjs:ro" \
    "$DEMO_IMAGE" node /demo/run-demo.mjs "$@"
}

calls() {
  as web      call api      /api/products
  as web      call database /query
  as api      call order    /api/v1/orders
  as api      call cache    /cache/products
  as api      call billing  /invoices
  as order    call database /query
  as order    call payment  /api/v1/payment/charge POST
  as payment  call database /query
}

echo "== waiting for SPIRE to issue SVIDs and the sidecars to come up"
as web wait api

echo
echo "== 1. calls between services (mTLS with SPIRE identities, decided by trustgate)"
calls

echo
echo "== 2. a runtime alert: reading /etc/shadow inside the order container"
echo "      (Falco rules: Service Accessing Sensitive Files (CRITICAL), Unauthorized Process in Service Container)"
docker compose exec -T -u root order cat /etc/shadow >/dev/null
sleep 6 # Falco -> Falcosidekick -> trustgate, then the sidecars' revocation poll (every 2 s)
as web risk

echo
echo "== 3. the same calls again: order, now at critical runtime risk, is denied everywhere"
calls

echo
echo "Decision logs: docker compose logs trustgate | Reset the risk: docker compose restart trustgate"
