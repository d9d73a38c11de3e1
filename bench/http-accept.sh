#!/usr/bin/env bash
# Measures how many messages per second POST /v1/messages and /v1/messages/batch accept
# durably (202 only after the SQLite commit), with wrk as the load tool.
# Usage: bench/http-accept.sh [duration, default 20s] [connections, default 32]
# Needs: a release build (cargo build --release -p smsgate) and wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20s}
CONNS=${2:-32}
BIN=${CARGO_TARGET_DIR:-target}/release/smsgate
DIR=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
cat > "$DIR/smsgate.toml" <<TOML
[http]
listen = "127.0.0.1:0"
[store]
url = "sqlite://$DIR/smsgate.db"
TOML
RUST_LOG=warn "$BIN" serve --config "$DIR/smsgate.toml" > "$DIR/out" &
PID=$!
for _ in $(seq 100); do grep -q "stop with Ctrl-C" "$DIR/out" 2>/dev/null && break; sleep 0.1; done
BASE=$(sed -n 's/.*dashboard and API: \(http:[^ ]*\)\//\1/p' "$DIR/out")
export SMSGATE_KEY=$(cat "$DIR/admin.key")
echo "== single: POST /v1/messages, $CONNS connections, $DURATION"
wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s bench/wrk/send.lua "$BASE"
echo "== batch of ${BATCH:-100}: POST /v1/messages/batch, 8 connections, $DURATION"
wrk -t2 -c8 -d"$DURATION" --latency -s bench/wrk/batch.lua "$BASE"
echo "== messages stored"
curl -s -H "Authorization: Bearer $SMSGATE_KEY" "$BASE/v1/stats"
echo
