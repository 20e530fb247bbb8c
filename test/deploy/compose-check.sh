#!/usr/bin/env bash
# compose-check.sh — runs compose.yaml as written (two Townhall nodes, Caddy, Redis, Postgres) on this machine and
# checks it through Caddy: both nodes healthy, https with Caddy's internal CA (DOMAIN=localhost; PUBLIC_IP is this
# machine's first address, which the nodes' relay reaches through the published ports), the admin made by
# `townhall admin create` signs in, a member signs up by invite, a DM between sockets on the two nodes, and a node
# stopped with SIGTERM drains (test/deploy/compose-check.ts). Everything it started is removed at the end (containers,
# network, volumes), unless KEEP=1.
#
# Usage (from the checkout, with the townhall image built):  test/deploy/compose-check.sh
# Environment:
#   DOCKER_HOST       the engine (e.g. unix:///tmp/townhall-docker-check/engine/docker.sock from
#                     /work/shared/tools/docker-build.sh with KEEP=1)
#   STANDINS=1        first build stand-ins for caddy:2.6, redis:7.0 and postgres:15 from the local
#                     debian:bookworm-slim and Debian's packages (test/deploy/standins/), for machines without a
#                     registry; skipped for an image that already exists
#   HTTP_PORT/HTTPS_PORT  where Caddy is published (default 3510/3511); KEEP=1 leaves it all running
set -uo pipefail
cd "$(dirname "$0")/../.."
HERE=test/deploy
export HTTP_PORT=${HTTP_PORT:-3510} HTTPS_PORT=${HTTPS_PORT:-3511}
ENV_FILE=$(mktemp)
cat >"$ENV_FILE" <<EOF
DOMAIN=localhost
PUBLIC_IP=$(hostname -I | awk '{print $1}')
POSTGRES_PASSWORD=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
ROOM_DRAIN_MS=${ROOM_DRAIN_MS:-5000}
HTTP_PORT=$HTTP_PORT
HTTPS_PORT=$HTTPS_PORT
EOF
if docker compose version >/dev/null 2>&1; then DC=(docker compose); else DC=(docker-compose); fi
DC+=(-p townhall-check --env-file "$ENV_FILE" -f compose.yaml)
FAILS=0
ok() { echo "   OK   $*"; }
bad() { echo "   FAIL $*"; FAILS=$((FAILS + 1)); }
cleanup() {
  if [[ ${KEEP:-0} != 1 ]]; then "${DC[@]}" down -v --remove-orphans >/dev/null 2>&1; fi
  rm -f "$ENV_FILE"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== compose: $("${DC[@]}" version --short 2>/dev/null || "${DC[@]}" version | head -1)"
if [[ ${STANDINS:-0} == 1 ]]; then
  for s in caddy:2.6 redis:7.0 postgres:15; do
    docker image inspect "$s" >/dev/null 2>&1 && continue
    docker build -q -t "$s" "$HERE/standins/${s%%:*}" >/dev/null && ok "stand-in $s built" ||
      { bad "stand-in $s"; exit 1; }
  done
fi
"${DC[@]}" config -q && ok "compose.yaml is valid" || { bad "compose config"; exit 1; }

echo "== up"
t0=$(date +%s)
"${DC[@]}" up -d 2>&1 | sed 's/^/   | /'
health() { docker inspect -f '{{.State.Health.Status}}' "$("${DC[@]}" ps -q "$1")" 2>/dev/null; }
for _ in $(seq 1 90); do
  [[ $(health townhall-1) == healthy && $(health townhall-2) == healthy ]] && break
  sleep 1
done
for n in townhall-1 townhall-2 redis postgres; do
  [[ $(health $n) == healthy ]] && ok "$n healthy" || bad "$n: $(health $n)"
done
echo "   up and healthy in $(($(date +%s) - t0)) s"
"${DC[@]}" ps | sed 's/^/   | /'

echo "== through Caddy (https://localhost:$HTTPS_PORT, Caddy's internal CA)"
CA=$(mktemp)
for _ in $(seq 1 30); do
  "${DC[@]}" exec -T caddy cat /data/caddy/pki/authorities/local/root.crt >"$CA" 2>/dev/null && [[ -s $CA ]] && break
  sleep 1
done
H=$(curl -sS --cacert "$CA" "https://localhost:$HTTPS_PORT/healthz" 2>&1)
[[ $H == *'"status":"ok"'* ]] && ok "GET /healthz over https, verified with Caddy's root: $H" || bad "healthz: $H"
R=$(curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' "http://localhost:$HTTP_PORT/")
[[ $R == 308* ]] && ok "http redirects to https: $R" || bad "http: $R"

# Nodes by id (their "cluster: node <id>, slot <n>" line), for the room's holder.
NODES="{"
for n in townhall-1 townhall-2; do
  L=$("${DC[@]}" logs --no-color "$n" 2>&1 | grep -o 'cluster: node [0-9a-f-]*, slot [0-9]*' | tail -1)
  [[ -n $L ]] && ok "$n: $L" || bad "$n: no cluster line in its logs"
  id=$(sed 's/cluster: node \([0-9a-f-]*\),.*/\1/' <<<"$L")
  NODES+="\"$id\":\"$n\","
done
NODES="${NODES%,}}"
DB=$("${DC[@]}" logs --no-color townhall-1 2>&1 | grep -io 'postgres[^ ]*\|data in [^,]*' | head -2 | tr '\n' ' ')
echo "   townhall-1's start line names: $DB"

echo "== members"
PW=compose-check-admin-pw
OUT=$(printf '%s' "$PW" | "${DC[@]}" exec -T townhall-1 townhall admin create --username admin 2>&1)
[[ $OUT == *created* ]] && ok "townhall admin create: $OUT" || bad "admin create: $OUT"
INV=$("${DC[@]}" exec -T townhall-2 townhall invite create --uses 2 2>&1 | tail -1)
[[ $INV == https://localhost/invite/* ]] && ok "townhall invite create (on townhall-2): ${INV%/*}/…" ||
  bad "invite: $INV"

BK=$("${DC[@]}" exec -T townhall-1 townhall backup 2>&1) &&
  ok "townhall backup (on townhall-1): $(tr '\n' ' ' <<<"$BK")" || bad "backup: $BK"

echo "== sign-in, a DM across the nodes, a node drained"
COMPOSE="${DC[*]}" NODES="$NODES" DRAIN_MS=$(grep ROOM_DRAIN_MS "$ENV_FILE" | cut -d= -f2) NODE_EXTRA_CA_CERTS="$CA" \
  timeout 120 npx bun "$HERE/compose-check.ts" "https://localhost:$HTTPS_PORT" https://localhost "$PW" "$INV" ||
  FAILS=$((FAILS + 1))
"${DC[@]}" logs --no-color --tail 6 townhall-1 townhall-2 2>&1 |
  sed 's/setup\/[A-Za-z0-9_-]*/setup\/<token>/; s/^/   | /'
rm -f "$CA"
echo "== failures: $FAILS"
exit $((FAILS > 0))
