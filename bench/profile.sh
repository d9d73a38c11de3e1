#!/usr/bin/env bash
# Where smsgate's time goes under the side-by-side load of bench/kannel-compare.sh: the same
# SMSC simulator (receipts after 50 ms), the same counting sink with a final-status webhook,
# wrk with 64 connections of one-message POSTs; `perf record` samples the gateway for 8 s in
# the middle of the run and the report prints time per thread and the hottest functions.
#
# Usage: bench/profile.sh [statuses JSON, default the final ones; '' for every status]
# Needs: a release build (it carries line tables), wrk and perf (Debian's linux-perf).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
STATUSES=${1-'["delivered", "undelivered", "failed", "expired"]'}
BIN=$(realpath "${CARGO_TARGET_DIR:-target}/release/smsgate")
GATEWAY_BIN=${GATEWAY_BIN:-$BIN}   # another build to profile (the simulator and sink stay this one)
DIR=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; echo "perf data: $DIR/perf.data"' EXIT
"$BIN" sim smsc --listen 127.0.0.1:27750 --receipt-delay 50ms --id-format decimal --window 100 \
  --stats-every 0s > "$DIR/smsc.out" 2>&1 &
PIDS+=($!)
"$BIN" sim sink --listen 127.0.0.1:8099 > "$DIR/sink.out" 2>&1 &
PIDS+=($!)
write_smsgate_config "$DIR" 18080 27750
sleep 0.5
"$GATEWAY_BIN" serve --config "$DIR/smsgate.toml" > "$DIR/out" 2>&1 &
SG=$!; PIDS+=("$SG")
for _ in $(seq 100); do grep -q "stop with Ctrl-C" "$DIR/out" 2>/dev/null && break; sleep 0.1; done
export SMSGATE_KEY
SMSGATE_KEY=$(cat "$DIR/admin.key")
for _ in $(seq 100); do
  curl -s -H "Authorization: Bearer $SMSGATE_KEY" http://127.0.0.1:18080/v1/connectors | grep -q '"bound"' && break
  sleep 0.1
done
subscribe_sink http://127.0.0.1:18080 8099 "$STATUSES"
(sleep 4; perf record -F 499 -g --call-graph dwarf,8192 -p "$SG" -o "$DIR/perf.data" -- sleep 8 \
  > "$DIR/perf.log" 2>&1) &
PERF=$!
wrk -t2 -c64 -d16s -s bench/wrk/send.lua http://127.0.0.1:18080 | grep -E "Requests/sec|ACCEPTED"
wait "$PERF"
echo "== samples per thread"
perf report -i "$DIR/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep '%' | head -5
echo "== hottest functions (self)"
perf report -i "$DIR/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep '%' | head -25
echo "== smsgate code (with callees)"
perf report -i "$DIR/perf.data" --children --sort sym --stdio -g none 2>/dev/null \
  | grep -E "smsgate_(store|core|api|connectors)::" | grep -v "(inlined)" | head -25
