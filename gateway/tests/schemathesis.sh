#!/usr/bin/env bash
# Property-based API testing of the running gateway with schemathesis: every
# operation of /openapi.json fed generated (valid and invalid) input; fails on
# a server error or an answer that breaks the document. Limits are raised so
# the throttles do not hide the handlers; the captcha stays on (the form's
# submissions without a solved proof of work must all be refused cleanly).
#
#   gateway/tests/schemathesis.sh [st run options]   (make test runs it;
#   ASTRO_GATEWAY_BIN names another binary)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${ASTRO_GATEWAY_BIN:-$root/target/debug/astro-gateway}
st=$root/.tools/venv/bin/st
work=$(mktemp -d)
free_port() { "$root/.tools/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
http_port=$(free_port)
grpc_port=$(free_port)
base=http://127.0.0.1:$http_port

ASTRO_HTTP_ADDR=127.0.0.1:$http_port ASTRO_GRPC_ADDR=127.0.0.1:$grpc_port \
ASTRO_DATA_DIR=$work ASTRO_WEB_DIR=$work/no-web-app ASTRO_BCRYPT_COST=10 \
ASTRO_ADMIN_EMAIL=admin@example.com ASTRO_ADMIN_PASSWORD=schemathesis-admin \
ASTRO_THROTTLE_RPS=100000 ASTRO_THROTTLE_BURST=100000 ASTRO_PUBLIC_PER_IP_PER_MIN=1000000 \
ASTRO_LOGIN_FAILURES_PER_ACCOUNT=1000000 ASTRO_LOGIN_FAILURES_PER_IP=1000000 \
ASTRO_LOG_FORMAT=json RUST_LOG=warn \
  "$bin" > "$work/gateway.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT

for _ in $(seq 1 100); do
  curl -sf "$base/openapi.json" > /dev/null && break
  sleep 0.1
done
token=$(curl -sf -X POST "$base/auth/login" -H 'content-type: application/json' \
  -d '{"email":"admin@example.com","password":"schemathesis-admin"}' |
  "$root/.tools/venv/bin/python" -c 'import json,sys; print(json.load(sys.stdin)["token"])')

# Left out: positive_data_acceptance (no generated submission carries a solved
# captcha, and generated ids name no stored card: valid data is refused by
# design); ignored_auth (public operations take no token by design; the auth
# of the others is tested end to end in tests/edge); missing_required_header
# (PATCH without If-Match answers 428 Precondition Required, RFC 6585, where
# the check expects a 400).
"$st" run "$base/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --exclude-checks positive_data_acceptance,ignored_auth,missing_required_header \
  --max-examples "${ST_MAX_EXAMPLES:-40}" \
  --workers 2 \
  --request-timeout 10 \
  --seed 7 \
  "$@" || { status=$?; echo "--- gateway log ---"; tail -50 "$work/gateway.log"; exit $status; }
