#!/usr/bin/env bash
# Kannel and smsgate side by side, one after the other, against the same SMSC simulator and the
# same far end, with the same load:
#
#   wrk (64 connections, one message per request) → gateway → SMPP (one transceiver, 100
#   pending submits) → `smsgate sim smsc` (receipts after 50 ms) → delivery report → gateway →
#   HTTP callback → `smsgate sim sink` (counts them)
#
# Kannel 1.4.5 (Debian): bearerbox + smsbox, `store-type = spool`, `GET /cgi-bin/sendsms` with
# `dlr-mask=3` and a `dlr-url` (one callback per message with its outcome).
# smsgate: `POST /v1/messages`, a `message.status` webhook to the same sink, once with the final
# statuses only (one callback per message, as Kannel) and once with every status (four).
#
# Prints, per gateway: messages accepted per second, end to end per second (final callbacks
# counted at the sink, from the start of the load to the last one), CPU seconds per 1,000 messages
# (the gateway's own processes, user + system), peak RSS; then the ratios to Kannel.
#
# Usage: bench/kannel-compare.sh [duration, default 20s] [connections, default 64]
# GATEWAYS="kannel final all" (the default) picks the runs; KEEP=1 keeps the work directory
# (configs, logs) for a look afterwards; GATEWAY_BIN=path runs another smsgate build as the
# gateway (the simulator and the sink stay this build's).
# Needs: a release build (cargo build --release -p smsgate); installs Debian's kannel and wrk
# when missing (apt-get, as root).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
DURATION=${1:-20s}
CONNS=${2:-64}
BIN=$(realpath "${CARGO_TARGET_DIR:-target}/release/smsgate")
# The smsgate under test (default: the same build as the simulator and the sink); point it at
# an older build to measure before and after in one run.
GATEWAY_BIN=${GATEWAY_BIN:-$BIN}
SMSC_PORT=${SMSC_PORT:-27750}
SINK_PORT=${SINK_PORT:-8099}
KANNEL_ADMIN=13000
KANNEL_BOX=13001
KANNEL_SENDSMS=13013
SMSGATE_HTTP=${SMSGATE_HTTP:-18080}

[ -x "$BIN" ] || { echo "no release build at $BIN: run cargo build --release -p smsgate" >&2; exit 1; }
if ! command -v bearerbox >/dev/null && [ ! -x /usr/sbin/bearerbox ] || ! command -v wrk >/dev/null; then
  echo "== installing kannel and wrk (Debian)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q kannel wrk >/dev/null
fi
# The package starts its own bearerbox on the standard ports: stop it, it is not ours.
if command -v systemctl >/dev/null && systemctl is-active --quiet kannel 2>/dev/null; then
  systemctl stop kannel || true
fi
[ -x /etc/init.d/kannel ] && /etc/init.d/kannel stop >/dev/null 2>&1 || true
BEARERBOX=$(command -v bearerbox || echo /usr/sbin/bearerbox)
SMSBOX=$(command -v smsbox || echo /usr/sbin/smsbox)

DIR=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; echo "kept $DIR"' EXIT
TICKS=$(getconf CLK_TCK)

# CPU seconds (user + system) of the given PIDs so far.
cpu_of() {
  local t=0 p f
  for p in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null || echo "0 0")
    t=$((t + ${f% *} + ${f#* }))
  done
  echo "scale=3; $t / $TICKS" | bc
}
# Peak RSS in MiB of each PID, joined with " + ".
rss_of() {
  local out="" p kb
  for p in "$@"; do
    kb=$(awk '/VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    out="${out:+$out + }$((kb / 1024))"
  done
  echo "$out MiB"
}
wait_for() { # what, command...
  local what=$1; shift
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "timed out waiting for $what" >&2; return 1
}
now_ms() { date +%s%3N; }
sink_count() { curl -s "http://127.0.0.1:$SINK_PORT/_count"; }
json_field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }

start_smsc() {
  "$BIN" sim smsc --listen "127.0.0.1:$SMSC_PORT" --receipt-delay 50ms --id-format decimal \
    --window 100 --stats-every 0s > "$DIR/smsc.$1.out" 2>&1 &
  SMSC_PID=$!; PIDS+=("$SMSC_PID")
  wait_for "the SMSC simulator" bash -c "exec 3<>/dev/tcp/127.0.0.1/$SMSC_PORT"
}
stop_pid() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

"$BIN" sim sink --listen "127.0.0.1:$SINK_PORT" > "$DIR/sink.out" 2>&1 &
PIDS+=($!)
wait_for "the sink" sink_count

# Runs wrk, waits for the callbacks, prints one result row. Args: name, wrk script, base URL,
# gateway PIDs...
measure() {
  local name=$1 script=$2 base=$3; shift 3
  curl -s -X POST "http://127.0.0.1:$SINK_PORT/_reset" >/dev/null
  local cpu0 t0 out accepted p99 wrk_s
  cpu0=$(cpu_of "$@")
  t0=$(now_ms)
  out=$(wrk -t2 -c"$CONNS" -d"$DURATION" --latency -s "$script" "$base")
  wrk_s=$(echo "scale=3; ($(now_ms) - $t0) / 1000" | bc)
  accepted=$(echo "$out" | sed -n 's/^ACCEPTED \([0-9]*\).*/\1/p')
  p99=$(echo "$out" | sed -n 's/.*P99_MS \([0-9.]*\).*/\1/p')
  # Wait until every accepted message has its callback, or 20 s without progress.
  local got=0 last=-1 still=0
  while :; do
    got=$(sink_count | json_field finals)
    [ "$got" -ge "$accepted" ] && break
    if [ "$got" = "$last" ]; then still=$((still + 1)); else still=0; last=$got; fi
    [ "$still" -ge 200 ] && { echo "  ($name: $got of $accepted callbacks after 20 s without progress)" >&2; break; }
    sleep 0.1
  done
  local last_ms cpu1
  last_ms=$(sink_count | json_field last_final_ms)
  cpu1=$(cpu_of "$@")
  local e2e_s cpu
  e2e_s=$(echo "scale=3; ($last_ms - $t0) / 1000" | bc)
  cpu=$(echo "scale=3; $cpu1 - $cpu0" | bc)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$accepted" \
    "$(echo "$accepted / $wrk_s" | bc)" "$got" "$(echo "$got / $e2e_s" | bc)" \
    "$(echo "scale=2; $cpu * 1000 / ($got + ($got == 0))" | bc)" "$p99" "$(rss_of "$@")" >> "$DIR/rows"
}

# --- Kannel ---------------------------------------------------------------------------------
run_kannel() {
echo "== Kannel: bearerbox + smsbox, spool store, dlr-mask=3"
start_smsc kannel
mkdir -p "$DIR/spool"
cat > "$DIR/kannel.conf" <<CONF
group = core
admin-port = $KANNEL_ADMIN
admin-password = bench
admin-allow-ip = "127.0.0.1"
smsbox-port = $KANNEL_BOX
box-allow-ip = "127.0.0.1"
log-level = 4
log-file = "$DIR/bearerbox.log"
store-type = spool
store-location = "$DIR/spool"
dlr-storage = internal

group = smsc
smsc = smpp
smsc-id = sim
host = 127.0.0.1
port = $SMSC_PORT
transceiver-mode = true
smsc-username = kannel
smsc-password = secret
system-type = ""
max-pending-submits = 100
msg-id-type = 0x00

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = $KANNEL_BOX
sendsms-port = $KANNEL_SENDSMS
global-sender = "12345"
log-level = 4
log-file = "$DIR/smsbox.log"

group = sendsms-user
username = bench
password = bench
max-messages = 10
concatenation = true

group = sms-service
keyword = default
text = "no service"
catch-all = true
CONF
"$BEARERBOX" "$DIR/kannel.conf" > "$DIR/bearerbox.out" 2>&1 &
BB=$!; PIDS+=("$BB")
wait_for "bearerbox" curl -sf "http://127.0.0.1:$KANNEL_ADMIN/status?password=bench"
"$SMSBOX" "$DIR/kannel.conf" > "$DIR/smsbox.out" 2>&1 &
SB=$!; PIDS+=("$SB")
wait_for "the SMPP bind" bash -c "curl -s 'http://127.0.0.1:$KANNEL_ADMIN/status.txt?password=bench' | grep -q 'online'"
wait_for "smsbox" bash -c "exec 3<>/dev/tcp/127.0.0.1/$KANNEL_SENDSMS"
DLR_URL="http://127.0.0.1:$SINK_PORT/dlr?s=%d" KANNEL_USER=bench KANNEL_PASS=bench \
  measure "Kannel 1.4.5" bench/wrk/kannel-sendsms.lua "http://127.0.0.1:$KANNEL_SENDSMS" "$BB" "$SB"
stop_pid "$SB"; stop_pid "$BB"; stop_pid "$SMSC_PID"
}

# --- smsgate --------------------------------------------------------------------------------
run_smsgate() { # label, statuses JSON (or empty for every status)
  local label=$1 statuses=$2
  echo "== smsgate: $label"
  start_smsc "smsgate-$label"
  rm -rf "$DIR/sg"; mkdir -p "$DIR/sg"
  write_smsgate_config "$DIR/sg" "$SMSGATE_HTTP" "$SMSC_PORT"
  "$GATEWAY_BIN" serve --config "$DIR/sg/smsgate.toml" > "$DIR/sg/out" 2>&1 &
  local sg=$!; PIDS+=("$sg")
  wait_for "smsgate" grep -q "stop with Ctrl-C" "$DIR/sg/out"
  local base="http://127.0.0.1:$SMSGATE_HTTP"
  export SMSGATE_KEY
  SMSGATE_KEY=$(cat "$DIR/sg/admin.key")
  wait_for "the SMPP bind" bash -c "curl -s -H 'Authorization: Bearer $SMSGATE_KEY' $base/v1/connectors | grep -q '\"bound\"'"
  subscribe_sink "$base" "$SINK_PORT" "$statuses"
  measure "smsgate ($label)" bench/wrk/send.lua "$base" "$sg"
  stop_pid "$sg"; stop_pid "$SMSC_PID"
}
for g in ${GATEWAYS:-kannel final all}; do
  case $g in
    kannel) run_kannel ;;
    final) run_smsgate "final statuses" '["delivered", "undelivered", "failed", "expired"]' ;;
    all) run_smsgate "every status" '' ;;
    *) echo "unknown gateway '$g' in GATEWAYS (kannel, final, all)" >&2; exit 1 ;;
  esac
done

# --- Report ---------------------------------------------------------------------------------
echo
echo "wrk -c$CONNS -d$DURATION, one message per request; SMSC receipts after 50 ms; $(nproc) cores"
printf '%-28s %10s %12s %10s %12s %14s %10s  %s\n' gateway accepted "accepted/s" callbacks "end to end/s" "CPU s/1000 msg" "p99 ms" "peak RSS"
while IFS=$'\t' read -r name acc accs got e2e cpu p99 rss; do
  printf '%-28s %10s %12s %10s %12s %14s %10s  %s\n' "$name" "$acc" "$accs" "$got" "$e2e" "$cpu" "$p99" "$rss"
done < "$DIR/rows"
grep -q '^Kannel' "$DIR/rows" || exit 0
k_acc=$(sed -n 1p "$DIR/rows" | cut -f3); k_e2e=$(sed -n 1p "$DIR/rows" | cut -f5)
tail -n +2 "$DIR/rows" | while IFS=$'\t' read -r name acc accs got e2e cpu p99 rss; do
  printf '%s vs Kannel: accepted %.2fx, end to end %.2fx\n' "$name" \
    "$(echo "scale=3; $accs / ($k_acc + ($k_acc == 0))" | bc)" "$(echo "scale=3; $e2e / ($k_e2e + ($k_e2e == 0))" | bc)"
done
