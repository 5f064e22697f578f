#!/usr/bin/env bash
# compare.sh: our server, FreeRADIUS 3.2 (one Lua call per packet) and a bare
# UDP echo server, side by side on this machine in one run, driven by the same
# neutral load generator (../shared/bench/radload) with the same load.
#
#   cmd/hsload/compare.sh                 everything below, ~6 min with the defaults
#   MODES="auth" RUNS=5 cmd/hsload/compare.sh
#   PEERS="ours echo" cmd/hsload/compare.sh   (no FreeRADIUS)
#   MEMORY=1 cmd/hsload/compare.sh        also: Redis bytes per session and per
#                                         open accounting record at 1M devices (~3 min more)
#
# What it does, all on loopback, stopping exactly the processes it started
# (by PID, also on Ctrl-C or error):
#   1. builds radiusd and hsload (this repo), radload and its echo server
#      (../shared/bench/radload);
#   2. starts redis-server on 127.0.0.1:26379 and radiusd on 127.0.0.1:22812/22813
#      (admin 127.0.0.1:29812), creates one session per simulated device;
#      starts FreeRADIUS through ../shared/bench/freeradius-baseline/run.sh serve redislua
#      (Redis 16379, FreeRADIUS 21812/21813) and the echo server (21912/21913);
#   3. for each mode and run, loads each peer in turn with radload (same
#      concurrency, devices, duration), so drift hits all peers alike;
#   4. checks accounting exactness under full load: hsload -mode mix against
#      our server, then Redis's consumption totals against hsload's totals;
#   5. prints medians (min–max), the server's CPU µs per answered packet
#      (its CPU share over the run × 10^4 ÷ req/s), and the ratios: our req/s ÷ FreeRADIUS req/s,
#      our p99 ÷ FreeRADIUS p99, our req/s ÷ echo req/s.
#
# Knobs (environment): MODES="auth acct-interim mixed" RUNS=3 DUR=10s C=64
#   USERS=10000 PEERS="ours fr echo" MEMORY=0 PROFILE=0 (1: CPU profile of our
#   server during the first run of each mode, into $WORKDIR/profiles)
#   WORKDIR (default $TMPDIR/hsradius-compare) BENCH (default ../shared/bench)
#   IO_BATCH (our radius.io_batch; default: the server's, 1: no recvmmsg/sendmmsg)
#   RATE (requests/s offered, radload -rate; default 0: as fast as answered).
#   A fixed RATE below every peer's capacity makes the CPU µs/packet column
#   comparable between runs on a busy box, where req/s is not.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH=${BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
WORKDIR=${WORKDIR:-${TMPDIR:-/tmp}/hsradius-compare}
MODES=${MODES:-"auth acct-interim mixed"}
RUNS=${RUNS:-3}
DUR=${DUR:-10s}
C=${C:-64}
USERS=${USERS:-10000}
PEERS=${PEERS:-"ours fr echo"}
MEMORY=${MEMORY:-0}
PROFILE=${PROFILE:-0}
IO_BATCH=${IO_BATCH:-}
RATE=${RATE:-0}
SECRET=testing123
REDIS_PORT=26379
AUTH_PORT=22812
ACCT_PORT=22813
ADMIN=127.0.0.1:29812
export PATH=$PATH:/usr/local/go/bin

BIN=$WORKDIR/bin
RUN=$WORKDIR/run
RES=$WORKDIR/results
PIDS=()

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { log "error: $*"; exit 1; }

has_peer() { [[ " $PEERS " == *" $1 "* ]]; }

# alive PID: a child of this script still running (not a reused PID).
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null && [ "$(ps -o ppid= -p "$1" | tr -d ' ')" = "$$" ]; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		alive "$p" && kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}"; do
		for _ in $(seq 150); do alive "$p" || break; sleep 0.1; done
		alive "$p" && kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	PIDS=()
	# FreeRADIUS and its Redis are run.sh's: its exit trap stops them; if it
	# could not, stop them here, by the PIDs it reported, if they are still them.
	if [ -n "${FR_PID:-}" ] && grep -q freeradius "/proc/$FR_PID/comm" 2>/dev/null; then kill "$FR_PID" 2>/dev/null || true; fi
	if [ -n "${FR_REDIS_PID:-}" ] && grep -q redis-server "/proc/$FR_REDIS_PID/comm" 2>/dev/null; then kill "$FR_REDIS_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_busy() { # udp|tcp port
	ss -H -ln"${1:0:1}" 2>/dev/null | awk '{print $4}' | grep -q ":$2\$"
}

wait_for() { # description command...
	local what=$1
	shift
	for _ in $(seq 300); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	die "$what did not come up (see $RUN)"
}

# ---------- build ----------
build() {
	[ -n "$BENCH" ] && [ -d "$BENCH/radload" ] || die "../shared/bench not found; set BENCH=/path/to/shared/bench"
	command -v redis-server >/dev/null || die "redis-server not installed: apt-get install redis-server"
	mkdir -p "$BIN" "$RUN" "$RES"
	log "building radiusd, hsload (this repo), radload, echoserver ($BENCH/radload)"
	(cd "$ROOT" && go build -o "$BIN/" ./cmd/radiusd ./cmd/hsload)
	(cd "$BENCH/radload" && go build -o "$BIN/radload" . && go build -o "$BIN/echoserver" ./cmd/echoserver)
}

# ---------- our server ----------
start_ours() {
	port_busy t $REDIS_PORT && die "tcp port $REDIS_PORT busy (a Redis left over? stop it, or free the port)"
	port_busy u $AUTH_PORT && die "udp port $AUTH_PORT busy"
	redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no --dir "$RUN" \
		--logfile "$RUN/redis-ours.log" &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	wait_for "redis-server :$REDIS_PORT" redis-cli -p $REDIS_PORT ping
	redis-cli -p $REDIS_PORT flushall >/dev/null

	cat >"$RUN/radiusd.yaml" <<EOF
listen:
  auth: ["127.0.0.1:$AUTH_PORT"]
  acct: ["127.0.0.1:$ACCT_PORT"]
redis:
  addrs: ["127.0.0.1:$REDIS_PORT"]
log:
  level: warn
admin:
  listen: "$ADMIN"
  pprof: true
nas:
  - name: radload
    address: 127.0.0.1
    secret: $SECRET
    # radload logs in as user%06d with the MAC in Calling-Station-Id.
    login: any_name
    profiles: [wispr]
    global_down_mbits: 10
    global_up_mbits: 2
    coa_port: 0
EOF
	if [ -n "$IO_BATCH" ]; then printf 'radius:\n  io_batch: %s\n' "$IO_BATCH" >>"$RUN/radiusd.yaml"; fi
	"$BIN/radiusd" -config "$RUN/radiusd.yaml" 2>"$RUN/radiusd.log" &
	OURS_PID=$!
	PIDS+=("$OURS_PID")
	wait_for "radiusd" curl -fsS "http://$ADMIN/readyz"
	fresh_ours
	log "ours: radiusd pid $OURS_PID on 127.0.0.1:$AUTH_PORT/$ACCT_PORT, redis-server pid $REDIS_PID on :$REDIS_PORT, $USERS sessions"
}

# fresh_ours empties our Redis and creates one time session per simulated
# device (radload's client k has MAC 02:00:00:KK:KK:KK, hsload's device k the
# same). Before each accounting run: radload starts its counters from zero
# each run, which a record left by the previous run would treat as stale
# (cheap, not what a NAS sends).
fresh_ours() {
	redis-cli -p $REDIS_PORT flushall >/dev/null
	"$BIN/hsload" -mode status -count 1 -devices "$USERS" -create-sessions -redis 127.0.0.1:$REDIS_PORT \
		-auth-port $AUTH_PORT -acct-port $ACCT_PORT -secret $SECRET >"$RUN/create.txt" 2>&1 ||
		{ cat "$RUN/create.txt"; die "hsload -create-sessions failed"; }
}

# ---------- FreeRADIUS (through the baseline harness) ----------
start_fr() {
	# run.sh's own "serve V" serves the last variant its raddb loop saw (a
	# dynamic-scoping slip: build_raddb's loop variable is main's v), so its
	# steps are called here in order, from the sourced harness.
	# shellcheck disable=SC2016
	WORKDIR=$WORKDIR/freeradius USERS=$USERS RUN_SH_SOURCE=1 bash -c '
		source "$0"
		install_if_missing
		build_radload
		build_raddb
		start_redis
		load_redis
		start_fr redislua
		log "serving variant redislua"
		wait "$FR_PID"' "$BENCH/freeradius-baseline/run.sh" >"$RUN/freeradius.log" 2>&1 &
	FRSH_PID=$!
	PIDS+=("$FRSH_PID")
	for _ in $(seq 1200); do
		grep -q "serving variant" "$RUN/freeradius.log" && break
		kill -0 "$FRSH_PID" 2>/dev/null || { cat "$RUN/freeradius.log"; die "run.sh serve redislua exited"; }
		sleep 0.25
	done
	grep -q "serving variant" "$RUN/freeradius.log" || die "FreeRADIUS did not start (see $RUN/freeradius.log)"
	FR_PID=$(grep -o 'freeradius (redislua, [0-9]* threads) pid [0-9]*' "$RUN/freeradius.log" | awk '{print $NF}' || true)
	FR_REDIS_PID=$(grep -o 'redis-server pid [0-9]*' "$RUN/freeradius.log" | awk '{print $NF}' || true)
	[ -n "$FR_PID" ] && [ -n "$FR_REDIS_PID" ] || die "cannot read FreeRADIUS's and its Redis's PIDs from $RUN/freeradius.log"
	log "fr: freeradius pid $FR_PID on 127.0.0.1:21812/21813, redis-server pid $FR_REDIS_PID on :16379 (run.sh pid $FRSH_PID)"
}

start_echo() {
	port_busy u 21912 && die "udp port 21912 busy"
	"$BIN/echoserver" -impl fast -d 1h >"$RUN/echo.log" 2>&1 &
	ECHO_PID=$!
	PIDS+=("$ECHO_PID")
	sleep 0.3
	log "echo: echoserver pid $ECHO_PID on 127.0.0.1:21912/21913"
}

# ---------- load ----------
load() { # peer mode run
	local peer=$1 mode=$2 r=$3 ports pids
	case $peer in
	ours) ports="-auth-port $AUTH_PORT -acct-port $ACCT_PORT"; pids="server=$OURS_PID,redis=$REDIS_PID" ;;
	fr) ports="-auth-port 21812 -acct-port 21813"; pids="server=$FR_PID,redis=$FR_REDIS_PID" ;;
	echo) ports="-auth-port 21912 -acct-port 21913"; pids="server=$ECHO_PID" ;;
	esac
	[ "$peer" = ours ] && [ "$mode" != auth ] && fresh_ours
	local prof=""
	if [ "$PROFILE" = 1 ] && [ "$peer" = ours ] && [ "$r" = 1 ]; then
		mkdir -p "$WORKDIR/profiles"
		local secs
		case $DUR in # the profile's length, whole seconds
		*ms) secs=1 ;;
		*s) secs=${DUR%s} ;;
		*m) secs=$((${DUR%m} * 60)) ;;
		*) secs=10 ;;
		esac
		curl -fsS -o "$WORKDIR/profiles/cpu-$mode.pprof" "http://$ADMIN/debug/pprof/profile?seconds=$secs" &
		prof=$!
	fi
	# shellcheck disable=SC2086
	"$BIN/radload" -mode "$mode" -host 127.0.0.1 $ports -secret $SECRET -c "$C" -n 0 -d "$DUR" -t 2s -r 2 -rate "$RATE" \
		-users "$USERS" -pids "$pids" -label "peer=$peer,run=$r" >"$RUN/last.txt" 2>&1 || true
	[ -n "$prof" ] && wait "$prof" || true
	cat "$RUN/last.txt" >>"$RES/full.txt"
	grep '^RESULT' "$RUN/last.txt" | tee -a "$RES/results.txt" | cut -c1-150 >&2 || log "$peer $mode run $r: no RESULT (see $RES/full.txt)"
	sleep 1
}

kv() { # line key
	sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<"$1"
}

# ---------- exactness ----------
redis_totals() { # prints "time_cons data_cons_bytes" summed over every session hash
	redis-cli -p $REDIS_PORT --scan --pattern 'hs:{*}:s:*' |
		awk '{print "HMGET " $0 " time_cons data_cons_bytes"}' |
		redis-cli -p $REDIS_PORT |
		awk 'NR % 2 == 1 { t += $1 } NR % 2 == 0 { d += $1 } END { printf "%d %d\n", t, d }'
}

exactness() {
	log "exactness: hsload -mode mix against our server at full load"
	local before after
	before=$(redis_totals)
	"$BIN/hsload" -mode mix -devices "$USERS" -concurrency "$C" -duration "$DUR" -auth-port $AUTH_PORT -acct-port $ACCT_PORT \
		-secret $SECRET -retries 3 -json >"$RES/exactness.json" 2>"$RUN/exactness.err" || true
	after=$(redis_totals)
	python3 - "$before" "$after" "$RES/exactness.json" <<'EOF' | tee -a "$RES/summary.txt"
import json, sys
b = [int(x) for x in sys.argv[1].split()]
a = [int(x) for x in sys.argv[2].split()]
s = json.load(open(sys.argv[3]))
t = s["totals"]
dt, dd = a[0] - b[0], a[1] - b[1]
ok = dt == t["time_secs"] and dd == t["input_octets"] + t["output_octets"]
print(f"exactness (hsload mix, {s['answered']} answered at {s['req_per_sec']:.0f} req/s, {s['timeouts']} timeouts): "
      f"Redis +{dt} s +{dd} B, hsload acknowledged {t['time_secs']} s {t['input_octets'] + t['output_octets']} B "
      f"over {t['sessions']} sessions: {'EXACT' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
EOF
}

# ---------- memory ----------
memory() {
	local n=1000000 m0 m1 m2
	log "memory: $n sessions and $n open accounting records in a fresh Redis"
	redis-cli -p $REDIS_PORT flushall >/dev/null
	m0=$(redis-cli -p $REDIS_PORT info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
	"$BIN/hsload" -mode status -count 1 -devices $n -create-sessions -redis 127.0.0.1:$REDIS_PORT \
		-auth-port $AUTH_PORT -acct-port $ACCT_PORT -secret $SECRET >"$RUN/memory-create.txt" 2>&1
	m1=$(redis-cli -p $REDIS_PORT info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
	"$BIN/hsload" -mode start -count $n -devices $n -concurrency "$C" -auth-port $AUTH_PORT -acct-port $ACCT_PORT \
		-secret $SECRET -retries 3 -json >"$RES/memory-start.json" 2>/dev/null || true
	m2=$(redis-cli -p $REDIS_PORT info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
	local recs
	recs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["codes"].get("Accounting-Response", 0))' "$RES/memory-start.json")
	{
		echo "memory: used_memory $m0 B empty; $m1 B with $n sessions: $(((m1 - m0) / n)) B per session (hash, sessions zset, seq)"
		[ "$recs" -gt 0 ] || die "memory: no Accounting-Start answered (see $RES/memory-start.json)"
		echo "memory: $m2 B after $recs Accounting-Start: $(((m2 - m1) / recs)) B per open accounting record (hash, device open set, NAS zset; coa_port 0: no schedule entry)"
		echo "memory: a sample session key: $(redis-cli -p $REDIS_PORT memory usage 'hs:{020000000001}:s:1') B; $(redis-cli -p $REDIS_PORT info memory | grep -E '^(used_memory_human|mem_fragmentation_ratio)' | tr -d '\r' | paste -sd' ')"
	} | tee -a "$RES/summary.txt"
}

# ---------- summary ----------
summary() {
	python3 - "$RES/results.txt" "$MODES" "$PEERS" <<'EOF' | tee -a "$RES/summary.txt"
import re, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    if not line.startswith("RESULT"):
        continue
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    peer = dict(x.split("=") for x in kv["label"].split(","))["peer"]
    rows.setdefault((kv["mode"], peer), []).append(kv)
names = {"ours": "hsradius", "fr": "FreeRADIUS redislua", "echo": "echo ceiling"}
def med(runs, key):
    v = sorted(float(r[key]) for r in runs)
    return statistics.median(v), v[0], v[-1]
# CPU per packet: the server process's CPU time over the run (its share, 100 =
# one core, times the run's length) divided by the packets it answered.
print(f"| mode | server | req/s median (min–max) | p50 ms | p99 ms (min–max) | timeouts | CPU server % | CPU redis % | server CPU µs/packet |")
print("|---|---|---|---|---|---|---|---|---|")
ratios = []
for mode in sys.argv[2].split():
    m = {}
    for peer in sys.argv[3].split():
        runs = rows.get((mode, peer))
        if not runs:
            continue
        rps, lo, hi = med(runs, "rps")
        p50 = med(runs, "p50_ms")[0]
        p99, p99lo, p99hi = med(runs, "p99_ms")
        to = sum(int(r["timeouts"]) for r in runs)
        cs = med(runs, "cpu_server")[0] if "cpu_server" in runs[0] else float("nan")
        cr = med(runs, "cpu_redis")[0] if "cpu_redis" in runs[0] else float("nan")
        us = statistics.median(float(r["cpu_server"]) * 1e4 / float(r["rps"]) for r in runs) \
            if "cpu_server" in runs[0] and all(float(r["rps"]) > 0 for r in runs) else float("nan")
        m[peer] = (rps, p99)
        print(f"| {mode} | {names[peer]} | {rps:,.0f} ({lo:,.0f}–{hi:,.0f}) | {p50:.2f} | {p99:.2f} ({p99lo:.2f}–{p99hi:.2f}) | {to} | {cs:.0f} | {cr:.0f} | {us:.1f} |")
    r = [mode]
    if "ours" in m and "fr" in m:
        r.append(f"req/s {m['ours'][0] / m['fr'][0]:.2f}× FreeRADIUS, p99 {m['ours'][1] / m['fr'][1]:.2f}× FreeRADIUS's")
    if "ours" in m and "echo" in m:
        r.append(f"{100 * m['ours'][0] / m['echo'][0]:.0f}% of the echo ceiling")
    ratios.append(r)
print()
for r in ratios:
    print(f"{r[0]}: " + "; ".join(r[1:]))
EOF
}

main() {
	build
	rm -f "$RES/results.txt" "$RES/full.txt" "$RES/summary.txt"
	{
		echo "compare.sh $(date -u +%FT%TZ) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "MODES=\"$MODES\" RUNS=$RUNS DUR=$DUR C=$C USERS=$USERS PEERS=\"$PEERS\" RATE=$RATE IO_BATCH=${IO_BATCH:-default}; commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
	} | tee "$RES/summary.txt"
	has_peer ours && start_ours
	has_peer fr && start_fr
	has_peer echo && start_echo
	for mode in $MODES; do
		for r in $(seq "$RUNS"); do
			for peer in $PEERS; do
				load "$peer" "$mode" "$r"
			done
		done
	done
	summary
	if has_peer ours; then
		exactness || log "EXACTNESS FAILED: see $RES/exactness.json"
		[ "$MEMORY" = 1 ] && memory
	fi
	log "results in $RES (summary.txt, results.txt, full.txt); stopping what this script started"
}

main "$@"
