#!/usr/bin/env bash
# overload.sh: offer our server far more than it can answer, then normal
# load again, and record what it did: answers and drops during the overload,
# its memory (RSS, peak), and how fast it serves once the load drops.
#
#   cmd/hsload/overload.sh            ~1 min
#   OVER_C=16384 OVER_DUR=30s cmd/hsload/overload.sh
#
# On loopback only: redis-server on 127.0.0.1:26379, radiusd on
# 127.0.0.1:22812/22813 (admin 127.0.0.1:29812) with max_in_flight 1024;
# stops exactly what it started (by PID). Steps:
#   1. baseline: hsload -mode mix, concurrency 64, 10 s;
#   2. overload: hsload -mode mix with OVER_C requests in flight (default
#      8192 on 64 sockets), a 500 ms timeout and no retransmission, so every
#      unanswered request is offered again as a new one: the offered rate is
#      several times what the server answers;
#   3. recovery: the baseline again, right after;
#   after each step the server's RSS (and peak) and its overload drops.
# Exactness is not checked here: with no retransmission an unanswered packet
# may still have been counted (the next one's cumulative counters carry on);
# compare.sh and the fault suite check it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORKDIR=${WORKDIR:-${TMPDIR:-/tmp}/hsradius-overload}
OVER_C=${OVER_C:-8192}
OVER_DUR=${OVER_DUR:-20s}
DEVICES=${DEVICES:-20000}
REDIS_PORT=26379
AUTH_PORT=22812
ACCT_PORT=22813
ADMIN=127.0.0.1:29812
SECRET=testing123
export PATH=$PATH:/usr/local/go/bin
PIDS=()

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 1; }
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$WORKDIR/bin"
command -v redis-server >/dev/null || die "redis-server not installed: apt-get install redis-server"
ss -H -ltn | awk '{print $4}' | grep -q ":$REDIS_PORT\$" && die "tcp port $REDIS_PORT busy"
ss -H -lun | awk '{print $4}' | grep -q ":$AUTH_PORT\$" && die "udp port $AUTH_PORT busy"
(cd "$ROOT" && go build -o "$WORKDIR/bin/" ./cmd/radiusd ./cmd/hsload)

redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no --dir "$WORKDIR" --logfile "$WORKDIR/redis.log" &
REDIS_PID=$!
PIDS+=("$REDIS_PID")
for _ in $(seq 50); do redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 || die "redis-server did not come up (see $WORKDIR/redis.log)"
cat >"$WORKDIR/radiusd.yaml" <<EOF
listen: {auth: ["127.0.0.1:$AUTH_PORT"], acct: ["127.0.0.1:$ACCT_PORT"]}
redis: {addrs: ["127.0.0.1:$REDIS_PORT"]}
radius: {max_in_flight: 1024}
log: {level: warn}
admin: {listen: "$ADMIN"}
nas: [{name: overload, address: 127.0.0.1, secret: $SECRET, coa_port: 0}]
EOF
"$WORKDIR/bin/radiusd" -config "$WORKDIR/radiusd.yaml" 2>"$WORKDIR/radiusd.log" &
SRV_PID=$!
PIDS+=("$SRV_PID")
for _ in $(seq 100); do curl -fsS "http://$ADMIN/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://$ADMIN/readyz" >/dev/null || die "radiusd did not come up (see $WORKDIR/radiusd.log)"

hs() { # label, hsload flags...
	local label=$1
	shift
	"$WORKDIR/bin/hsload" -mode mix -devices "$DEVICES" -auth-port $AUTH_PORT -acct-port $ACCT_PORT -secret $SECRET -json "$@" \
		>"$WORKDIR/$label.json" 2>"$WORKDIR/$label.err" || true
	python3 - "$label" "$WORKDIR/$label.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[2]))
l = s["latency_us"]
print(f"{sys.argv[1]:9} sent {s['sent']:>8} answered {s['answered']:>8} ({s['req_per_sec']:,.0f}/s) timeouts {s['timeouts']:>8}"
      f"  p50 {l['p50']/1000:.2f} ms p99 {l['p99']/1000:.2f} ms  bad {s['bad']}")
EOF
}
rss() { awk '/^(VmRSS|VmHWM)/ {printf "%s %d MiB ", $1, $2/1024}' "/proc/$SRV_PID/status"; }
drops() { curl -fsS "http://$ADMIN/metrics" | awk '/^radiusd_packets_total/ && /outcome="overload"/ {n += $NF} END {printf "%d", n}'; }

{
	echo "overload.sh $(date -u +%FT%TZ), $(nproc) cores, commit $(cd "$ROOT" && git rev-parse --short HEAD)"
	"$WORKDIR/bin/hsload" -mode status -count 1 -devices "$DEVICES" -create-sessions -redis 127.0.0.1:$REDIS_PORT \
		-auth-port $AUTH_PORT -acct-port $ACCT_PORT -secret $SECRET >/dev/null 2>&1
	echo "radiusd after start: $(rss)"
	hs baseline -concurrency 64 -duration 10s -retries 3
	echo "radiusd after baseline: $(rss); overload drops so far $(drops)"
	hs overload -concurrency "$OVER_C" -sockets 64 -duration "$OVER_DUR" -timeout 500ms -retries 0
	echo "radiusd after overload: $(rss); overload drops so far $(drops)"
	hs recovery -concurrency 64 -duration 10s -retries 3
	echo "radiusd after recovery: $(rss); overload drops so far $(drops)"
} | tee "$WORKDIR/summary.txt"
log "results in $WORKDIR; stopping what this script started"
