#!/usr/bin/env bash
# make bench: every figure of BENCHMARKS.md in one invocation, as ratios against baselines
# measured in the same run (the absolute rates depend on the machine and its load).
#   1. the raw codec rate (bench/codec_rate: imaging::compress q50 on all cores, in memory)
#   2. imgbatch end to end over HTTP: BENCH_IMAGES images served by a local nginx, upload
#      to `completed`
#   3. the Node.js + sharp peer (bench/node/peer.js) on the same URLs, best of two settings
#   4. POST /upload of a BENCH_UPLOAD_ROWS-row CSV (median of 5, an API-only instance)
#   5. GET /status at a held 2,000 req/s (bench/status_load) and under wrk while the workers
#      are busy with BENCH_LONG_IMAGES images, and
#      the peak RSS over that run, RSS at half and at the end (BENCH_LONG_IMAGES=0 skips)
#   6. raw claim/finish throughput of each Store backend, tasks/s (bench/store_throughput:
#      SQLite, and PostgreSQL with synchronous commit on and off, 1, 2 and 4 threads)
#   7. scale-out: images/s with one `imgbatch worker --workers 1` process against two, on one
#      PostgreSQL database, with an API-only node taking the upload (target >= 1.8x on 2 cores)
#   8. recovery after kill -9 (median of BENCH_RECOVERY_ROUNDS runs of the kill -9 end-to-end
#      tests): a restarted `serve` on SQLite taking back what its killed predecessor held
#      (target 2 s), and one of two PostgreSQL workers killed, its images taken by the other
#      (target 5 s); each also with the killed process in a PID namespace of its own (as in
#      another container), where only the presence file or lock can tell. The tests start
#      their own processes, origin and PostgreSQL cluster.
#   9. object storage: end to end with `--storage s3://…` on a one-node Ceph RADOS Gateway
#      started here (tests/support/ceph_cluster_main: one monitor, one OSD on RAM, one
#      gateway, all on loopback) against the same run with file storage, BENCH_S3_ROUNDS
#      rounds of BENCH_S3_IMAGES images each, alternating (target s3/file >= 0.85); and
#      BlobStore::put latency p50/p99 on both (bench/blob_put_latency, 4 threads putting
#      the compressed photos).
#  10. quality targets and sizes (issue 14), image level, on the photos: the calibration S
#      (worst SSIM fixed quality 50 gives any photo), quality=auto at S against fixed 50
#      (bytes, every photo meets S), CPU per image of auto and of three sizes + full against
#      fixed 50 alone, max_bytes (median quality, all under the cap) (bench/quality_auto),
#      and scikit-image's SSIM of the same outputs as the independent check
#      (bench/ssim_check.py).
#  11. fair turns (issue 13): a BENCH_FAIR_SMALL-image request (10) uploaded while a
#      BENCH_FAIR_BIG-image one (20,000) is running, against the same request on the idle
#      service, median of BENCH_FAIR_ROUNDS (3) each (target busy/idle <= 3). The big
#      request is not waited for.
# Phases 6 and 7 start a throwaway PostgreSQL server of their own (initdb in the scratch
# folder, stock durability settings, as the `postgres` user when run as root), stopped at
# exit. BENCH_ONLY=scale-out runs phases 6 and 7 alone, BENCH_ONLY=recovery phase 8 alone,
# BENCH_ONLY=s3 phase 9 alone, BENCH_ONLY=quality phase 10 alone, BENCH_ONLY=fairness
# phase 11 alone, BENCH_ONLY=reuse phase 12 alone, BENCH_ONLY=e2e phases 1-3 alone.
# 12. Repeats (issue 15): against an nginx of its own (sending ETags, logging each answer's
#      status and body bytes), BENCH_REUSE_IMAGES (1000) new URLs, then the same CSV again
#      (target: >= 20x faster, <= 2 % of the bytes downloaded); the same number of rows
#      naming a fifth as many URLs, 5 times each, against those URLs alone (target: <= 1.1x
#      the time, one download per URL); and the first run against `--reuse off` on new URLs,
#      alternating, best of two each, with the process's CPU (target: within 5 %).
# Every rate is also given as CPU milliseconds per image (all threads of the process), which
# other load on a shared machine disturbs much less than images/s, and each phase prints
# the share of the machine's CPU that was idle during it (0% = someone else was busy too).
# Only 127.0.0.1 is ever contacted. Needs root or sudo once, to install nginx, wrk and jq.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BENCH_BUILD_DIR:-$ROOT/build-bench}
PHOTOS=$(cd "${BENCH_PHOTOS:-$ROOT/../shared/testdata/photos}" && pwd)
CORES=$(nproc)
IMAGES=${BENCH_IMAGES:-700}
UPLOAD_ROWS=${BENCH_UPLOAD_ROWS:-10000}
LONG_IMAGES=${BENCH_LONG_IMAGES:-10000}
CODEC_SECONDS=${BENCH_CODEC_SECONDS:-20}
WAIT_LIMIT=${BENCH_WAIT_SECONDS:-1800}  # the longest any one run is waited for
STORE_TASKS=${BENCH_STORE_TASKS:-20000}
SCALE_IMAGES=${BENCH_SCALE_IMAGES:-400}
SCALE_ROUNDS=${BENCH_SCALE_ROUNDS:-2}  # each round runs one and two worker processes
# Downloads in flight per worker process in phase 7. A worker holds up to this + 2 images;
# with a fast origin they wait for its one compress thread, and at the end of a request
# one worker may still hold a queue while the other has nothing left to claim.
SCALE_DOWNLOADS=${BENCH_SCALE_DOWNLOADS:-4}
ONLY=${BENCH_ONLY:-}
RECOVERY_ROUNDS=${BENCH_RECOVERY_ROUNDS:-5}
S3_IMAGES=${BENCH_S3_IMAGES:-700}
S3_ROUNDS=${BENCH_S3_ROUNDS:-3}  # each round runs file storage and S3 storage
QUALITY_ROUNDS=${BENCH_QUALITY_ROUNDS:-2}  # rounds of the CPU comparison in phase 10
FAIR_BIG=${BENCH_FAIR_BIG:-20000}
FAIR_SMALL=${BENCH_FAIR_SMALL:-10}
FAIR_ROUNDS=${BENCH_FAIR_ROUNDS:-3}
REUSE_IMAGES=${BENCH_REUSE_IMAGES:-1000}
case $ONLY in "" | e2e | scale-out | recovery | s3 | quality | fairness | reuse) ;; *) echo "BENCH_ONLY: unknown value '$ONLY' (e2e, scale-out, recovery, s3, quality, fairness, reuse)" >&2; exit 2 ;; esac

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- tools --------------------------------------------------------------------------------
install_packages() {
  local sudo=
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing $*"
  $sudo apt-get install -y "$@" >/dev/null 2>&1 ||
    { $sudo apt-get update >/dev/null && $sudo apt-get install -y "$@" >/dev/null; }
}
missing=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
command -v node >/dev/null || missing+=(nodejs npm)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
/usr/bin/python3 -c "import skimage, PIL" 2>/dev/null || missing+=(python3-skimage python3-pil)
[ ${#missing[@]} -eq 0 ] || install_packages "${missing[@]}"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if ! (cd "$ROOT/bench/node" && node -e "require('sharp')" 2>/dev/null); then
  log "npm ci in bench/node (sharp and its prebuilt libvips from the npm registry)"
  (cd "$ROOT/bench/node" && npm ci --no-audit --no-fund >/dev/null)
fi
# The programs the chosen phases run (a BENCH_ONLY run needs only its own).
needed=(imgbatch)
[ -n "$ONLY" ] && [ "$ONLY" != e2e ] || needed+=(bench/codec_rate bench/status_load)
[ -n "$ONLY" ] && [ "$ONLY" != scale-out ] || needed+=(bench/store_throughput)
[ -n "$ONLY" ] && [ "$ONLY" != recovery ] || needed+=(tests/e2e/e2e_test tests/e2e/postgres_e2e_test)
[ -n "$ONLY" ] && [ "$ONLY" != s3 ] || needed+=(bench/blob_put_latency tests/support/ceph_cluster_main)
[ -n "$ONLY" ] && [ "$ONLY" != quality ] || needed+=(bench/quality_auto)
for program in "${needed[@]}"; do
  [ -x "$BUILD/$program" ] ||
    die "build first: make bench (or cmake -DIMGBATCH_BUILD_BENCH=ON into $BUILD); $program is missing"
done

# --- scratch space and processes we start -------------------------------------------------
WORK=$(mktemp -d /tmp/imgbatch-bench.XXXXXX)
PIDS=()
# Phases 6-7's PostgreSQL server (pg_ctl daemonises it, so it is not in PIDS).
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
PG_DATA=
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_stop() {
  [ -n "$PG_DATA" ] || return 0
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  PG_DATA=
}
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  pg_stop
  [ -n "${BENCH_KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

# A port nothing listens on (bounded: 200 candidates), below the kernel's ephemeral range:
# a port in that range can be the local end of an outgoing connection (imgbatch's to the S3
# gateway, the Ceph daemons' to each other), which nothing listens on but which makes the
# server's bind fail with "Address already in use".
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
PORT_LOW=10000
PORT_SPAN=$((EPHEMERAL_LOW > PORT_LOW + 1000 ? EPHEMERAL_LOW - PORT_LOW : 20000))
free_port() {
  local port i
  for i in $(seq 1 200); do
    port=$((PORT_LOW + RANDOM % PORT_SPAN))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  die "no free port found"
}

wait_http() {  # URL: until it answers 2xx, at most 30 s
  local i
  for i in $(seq 1 300); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  die "$1 did not answer"
}

now() { date +%s.%N; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; }  # key=value from a result line

# --- origin: nginx on loopback serving the photos -----------------------------------------
ORIGIN_PORT=$(free_port)
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 100000;
  client_body_temp_path $WORK/nginx/tmp;
  proxy_temp_path $WORK/nginx/tmp;
  fastcgi_temp_path $WORK/nginx/tmp;
  uwsgi_temp_path $WORK/nginx/tmp;
  scgi_temp_path $WORK/nginx/tmp;
  types { image/jpeg jpg jpeg; }
  server { listen 127.0.0.1:$ORIGIN_PORT; root $PHOTOS; }
}
CONF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
PIDS+=($!)
mapfile -t PHOTO_NAMES < <(cd "$PHOTOS" && ls | grep -iE '\.(jpe?g|png|webp)$' | sort)
[ ${#PHOTO_NAMES[@]} -gt 0 ] || die "no photos in $PHOTOS"
wait_http "http://127.0.0.1:$ORIGIN_PORT/${PHOTO_NAMES[0]}"
log "origin: nginx on 127.0.0.1:$ORIGIN_PORT serving ${#PHOTO_NAMES[@]} photos from $PHOTOS"

# N distinct URLs: the photos round robin, each with ?v=N so no URL repeats.
write_urls() {  # COUNT FILE
  local i
  for ((i = 0; i < $1; i++)); do
    echo "http://127.0.0.1:$ORIGIN_PORT/${PHOTO_NAMES[i % ${#PHOTO_NAMES[@]}]}?v=$i"
  done >"$2"
}
write_csv() {  # URLS_FILE CSV: one product per URL
  awk 'BEGIN { print "S. No.,Product Name,Input Image Urls" } { printf "%d,SKU%d,%s\n", NR, NR, $0 }' "$1" >"$2"
}

# --- imgbatch instances -------------------------------------------------------------------
IMGBATCH_PID=
start_imgbatch() {  # NAME WORKERS [OPTION...] (a later --storage overrides the folder)
  local dir="$WORK/$1" workers=$2
  shift 2
  mkdir -p "$dir/images"
  API_PORT=$(free_port)
  API="http://127.0.0.1:$API_PORT"
  "$BUILD/imgbatch" serve --listen "127.0.0.1:$API_PORT" --db "sqlite:$dir/imgbatch.db" \
    --storage "file:$dir/images" --allow-private-networks --workers "$workers" "$@" \
    >"$dir/imgbatch.log" 2>&1 &
  IMGBATCH_PID=$!
  PIDS+=("$IMGBATCH_PID")
  wait_http "$API/health"
}
stop_imgbatch() {
  kill -TERM "$IMGBATCH_PID" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$IMGBATCH_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$IMGBATCH_PID" 2>/dev/null || true
  wait "$IMGBATCH_PID" 2>/dev/null || true
}
upload() {  # CSV -> request id
  curl -fsS -F "file=@$1;type=text/csv" "$API/upload" | jq -r .request_id
}
progress() {  # ID -> "status done total failed"
  curl -fsS "$API/status?request_id=$1&limit=1" |
    jq -r '"\(.status) \(.progress.succeeded + .progress.failed) \(.progress.total) \(.progress.failed)"'
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }  # utime+stime
TICKS=$(getconf CLK_TCK)
# The machine's idle share between two snapshots of /proc/stat's cpu line.
cpu_snapshot() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
idle_since() {  # "IDLE TOTAL" from cpu_snapshot
  cpu_snapshot | awk -v s="$1" 'BEGIN { split(s, a, " ") } { printf "%.0f%%", 100 * ($1 - a[1]) / ($2 - a[2]) }'
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

# Waits for a request to end; every ~0.2 s samples progress and RSS into $WORK/NAME.trace
# ("seconds done rss_kb"). Sets WAIT_SECONDS, WAIT_FAILED.
# How often wait_completed asks for the status: a run looks up to this much longer than it
# was. Phase 12 asks more often, since a re-run it times is well under a second.
POLL_SECONDS=0.2
wait_completed() {  # ID NAME START
  local id=$1 trace="$WORK/$2.trace" start=$3 status done total failed t
  : >"$trace"
  while :; do
    read -r status done total failed < <(progress "$id")
    t=$(awk -v a="$(now)" -v b="$start" 'BEGIN { printf "%.3f", a - b }')
    echo "$t $done $(rss_kb "$IMGBATCH_PID")" >>"$trace"
    case $status in completed | failed) break ;; esac
    awk -v t="$t" -v l="$WAIT_LIMIT" 'BEGIN { exit !(t > l) }' && die "request $id not done after ${WAIT_LIMIT}s"
    sleep "$POLL_SECONDS"
  done
  [ "$status" = completed ] || die "request $id ended $status"
  WAIT_SECONDS=$t
  WAIT_FAILED=$failed
}

RESULTS="$WORK/results.txt"
: >"$RESULTS"
result() { echo "$*" | tee -a "$RESULTS"; }

log "machine: $CORES cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"

# Phases 1-5 (BENCH_ONLY=scale-out skips them; not indented, to keep their history readable).
# BENCH_ONLY=e2e runs phases 1-3 alone.
if [ -z "$ONLY" ] || [ "$ONLY" = e2e ]; then

# 1. Raw codec rate -------------------------------------------------------------------------
# Run twice, before and after the end to end and peer runs, and averaged: the load others
# put on a shared machine drifts over minutes.
# Two ceilings: the shipped compress() (DCT-domain requantisation where it applies), and
# every image through libvips (--full-path), the design's ceiling as the issue defines it.
codec_rate() {  # [--full-path] -> "images_per_s cpu_ms_per_image"
  local snap line
  snap=$(cpu_snapshot)
  line=$("$BUILD/bench/codec_rate" --threads "$CORES" --seconds "$CODEC_SECONDS" "$@" "${PHOTO_NAMES[@]/#/$PHOTOS/}")
  result "$line machine_idle=$(idle_since "$snap")" >&2
  echo "$(echo "$line" | field images_per_s) $(echo "$line" | field cpu_ms_per_image)"
}
log "codec rate: ${CODEC_SECONDS}s on $CORES threads"
read -r CODEC_RATE_1 CODEC_CPU_1 < <(codec_rate)
read -r FULL_RATE_1 FULL_CPU_1 < <(codec_rate --full-path)

# 2. imgbatch end to end --------------------------------------------------------------------
write_urls "$IMAGES" "$WORK/urls.txt"
write_csv "$WORK/urls.txt" "$WORK/e2e.csv"
start_imgbatch e2e "$CORES"
log "end to end: $IMAGES images through $API, $CORES workers"
SNAP=$(cpu_snapshot)
CPU0=$(cpu_ticks "$IMGBATCH_PID")
START=$(now)
ID=$(upload "$WORK/e2e.csv")
wait_completed "$ID" e2e "$START"
E2E_CPU=$(awk -v t="$(($(cpu_ticks "$IMGBATCH_PID") - CPU0))" -v hz="$TICKS" -v n="$IMAGES" 'BEGIN { printf "%.2f", t / hz * 1000 / n }')
E2E_RATE=$(awk -v n="$IMAGES" -v f="$WAIT_FAILED" -v s="$WAIT_SECONDS" 'BEGIN { printf "%.3f", (n - f) / s }')
result "imgbatch_e2e images=$IMAGES failures=$WAIT_FAILED seconds=$WAIT_SECONDS images_per_s=$E2E_RATE cpu_ms_per_image=$E2E_CPU peak_rss_kb=$(awk 'BEGIN{m=0} $3>m{m=$3} END{print m}' "$WORK/e2e.trace") machine_idle=$(idle_since "$SNAP")"
[ "$WAIT_FAILED" -eq 0 ] || log "warning: $WAIT_FAILED images failed, see $WORK/e2e/imgbatch.log"
stop_imgbatch

# 3. Node.js + sharp peer, two settings, the faster kept ---------------------------------------
PEER_RATE=0
PEER_CPU=0
for mode in pool threads; do
  rm -rf "$WORK/peer"
  log "peer: node + sharp, mode $mode"
  SNAP=$(cpu_snapshot)
  line=$(cd "$ROOT/bench/node" && node peer.js "$WORK/urls.txt" "$WORK/peer" "$mode") || log "warning: peer $mode reported failures"
  result "$line machine_idle=$(idle_since "$SNAP")"
  rate=$(echo "$line" | field images_per_s)
  if awk -v a="$rate" -v b="$PEER_RATE" 'BEGIN { exit !(a > b) }'; then
    PEER_RATE=$rate
    PEER_CPU=$(echo "$line" | field cpu_ms_per_image)
  fi
done
rm -rf "$WORK/peer"

log "codec rate again: ${CODEC_SECONDS}s on $CORES threads"
read -r FULL_RATE_2 FULL_CPU_2 < <(codec_rate --full-path)
read -r CODEC_RATE_2 CODEC_CPU_2 < <(codec_rate)
FULL_RATE=$(awk -v a="$FULL_RATE_1" -v b="$FULL_RATE_2" 'BEGIN { printf "%.3f", (a + b) / 2 }')
FULL_CPU=$(awk -v a="$FULL_CPU_1" -v b="$FULL_CPU_2" 'BEGIN { printf "%.2f", (a + b) / 2 }')
CODEC_RATE=$(awk -v a="$CODEC_RATE_1" -v b="$CODEC_RATE_2" 'BEGIN { printf "%.3f", (a + b) / 2 }')
CODEC_CPU=$(awk -v a="$CODEC_CPU_1" -v b="$CODEC_CPU_2" 'BEGIN { printf "%.2f", (a + b) / 2 }')
# Rates: higher is better, so e2e / baseline. CPU per image: lower is better, so
# baseline / e2e, i.e. the same direction (1.0 = as efficient as the baseline).
result "ratio e2e_over_codec=$(ratio "$E2E_RATE" "$CODEC_RATE") by_cpu=$(ratio "$CODEC_CPU" "$E2E_CPU") (target >= 0.90; shipped codec mean images_per_s=$CODEC_RATE cpu_ms_per_image=$CODEC_CPU)"
result "ratio e2e_over_libvips_codec=$(ratio "$E2E_RATE" "$FULL_RATE") by_cpu=$(ratio "$FULL_CPU" "$E2E_CPU") (target >= 0.90; libvips-only codec mean images_per_s=$FULL_RATE cpu_ms_per_image=$FULL_CPU)"
result "ratio e2e_over_peer=$(ratio "$E2E_RATE" "$PEER_RATE") by_cpu=$(ratio "$PEER_CPU" "$E2E_CPU") (target >= 1.30; best peer images_per_s=$PEER_RATE cpu_ms_per_image=$PEER_CPU)"

if [ -z "$ONLY" ]; then  # phases 4 and 5
# 4. POST /upload latency, API only (no workers, so nothing competes with the upload) -----
write_urls "$UPLOAD_ROWS" "$WORK/upload-urls.txt"
write_csv "$WORK/upload-urls.txt" "$WORK/upload.csv"
start_imgbatch upload 0
log "upload: $UPLOAD_ROWS rows ($(stat -c %s "$WORK/upload.csv") bytes), 5 times"
: >"$WORK/upload.times"
for i in 1 2 3 4 5; do
  curl -fsS -o /dev/null -w '%{time_total}\n' -F "file=@$WORK/upload.csv;type=text/csv" \
    "$API/upload" >>"$WORK/upload.times"
done
UPLOAD_MS=$(sort -n "$WORK/upload.times" | awk '{ a[NR] = $1 * 1000 } END { printf "%.1f", a[int((NR + 1) / 2)] }')
result "upload rows=$UPLOAD_ROWS median_ms=$UPLOAD_MS all_s=$(paste -sd, "$WORK/upload.times") (target <= 150)"
stop_imgbatch

# 5. Long run: RSS over LONG_IMAGES images, /status under load while the workers are busy
if [ "$LONG_IMAGES" -gt 0 ]; then
  write_urls "$LONG_IMAGES" "$WORK/long-urls.txt"
  write_csv "$WORK/long-urls.txt" "$WORK/long.csv"
  start_imgbatch long "$CORES"
  log "long run: $LONG_IMAGES images, /status under load after the first 200"
  START=$(now)
  ID=$(upload "$WORK/long.csv")
  for i in $(seq 1 600); do
    read -r _ done _ _ < <(progress "$ID")
    [ "$done" -ge 200 ] && break
    sleep 0.5
  done
  # The target, at a held rate (bench/status_load.cpp: open loop, latency from when each
  # request was due): a progress poll (limit=1) at 2,000 req/s, and a page of 100 products
  # at 200 req/s for scale. Then wrk, unthrottled, for the most the API gives while busy.
  for load in "limit=1 2000" "limit=100 200"; do
    read -r target rate <<<"$load"
    line=$("$BUILD/bench/status_load" 127.0.0.1 "$API_PORT" "/status?request_id=$ID&$target" \
      "$rate" 15 8 || true)
    result "status_under_load query=$target rate=$rate $line (target p99 <= 5ms at 2000 req/s)"
  done
  wrk -c 8 -t 2 -d 10s --latency "$API/status?request_id=$ID&limit=1" >"$WORK/wrk.txt"
  rps=$(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.txt")
  pct=$(awk '/Latency Distribution/ { on = 1; next } on && /%/ { printf "p%s=%s ", $1, $2 } on && !/%/ { on = 0 }' "$WORK/wrk.txt" | sed 's/%//g')
  result "status_unthrottled tool=wrk query=limit=1 requests_per_s=$rps $pct"
  wait_completed "$ID" long "$START"
  PEAK=$(awk 'BEGIN{m=0} $3>m{m=$3} END{print m}' "$WORK/long.trace")
  HALF=$(awk -v h=$((LONG_IMAGES / 2)) '$2 >= h { print $3; exit }' "$WORK/long.trace")
  END_RSS=$(tail -1 "$WORK/long.trace" | awk '{ print $3 }')
  LONG_RATE=$(awk -v n="$LONG_IMAGES" -v f="$WAIT_FAILED" -v s="$WAIT_SECONDS" 'BEGIN { printf "%.3f", (n - f) / s }')
  result "long_run images=$LONG_IMAGES failures=$WAIT_FAILED seconds=$WAIT_SECONDS images_per_s=$LONG_RATE peak_rss_mb=$((PEAK / 1024)) rss_at_half_mb=$((HALF / 1024)) rss_at_end_mb=$((END_RSS / 1024)) (target peak <= 256, flat)"
  [ -z "${BENCH_KEEP:-}" ] || log "RSS trace (seconds done rss_kb): $WORK/long.trace"
  stop_imgbatch
fi

fi  # phases 4 and 5
fi  # phases 1-5

# Phases 6-7 (run alone by BENCH_ONLY=scale-out; not indented either).
if [ -z "$ONLY" ] || [ "$ONLY" = scale-out ]; then

# --- PostgreSQL for phases 6 and 7 ----------------------------------------------------------
# Stock settings (fsync, synchronous_commit and full_page_writes on): the figures are what a
# default server on this disk gives, not the test cluster's fsync=off.
pg_start() {
  [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] ||
    die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; run scripts/install-deps.sh"
  PG_PORT=$(free_port)
  mkdir -p "$WORK/pg"
  chmod 711 "$WORK"  # the postgres user must reach $WORK/pg, and nothing else
  [ "$(id -u)" -ne 0 ] || chown postgres: "$WORK/pg"
  as_pg "$PG_BIN/initdb" -D "$WORK/pg/data" -A trust -U postgres -E UTF8 --locale=C --no-sync \
    >"$WORK/pg/initdb.log" 2>&1 || die "initdb failed, see $WORK/pg/initdb.log (BENCH_KEEP=1 keeps it)"
  PG_DATA="$WORK/pg/data"
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$WORK/pg/server.log" -w -t 60 \
    -o "-p $PG_PORT -h 127.0.0.1 -k $WORK/pg" start >/dev/null ||
    die "PostgreSQL did not start, see $WORK/pg/server.log (BENCH_KEEP=1 keeps it)"
  PG_URI="postgresql://postgres@127.0.0.1:$PG_PORT"
  log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{ print $3 }') on 127.0.0.1:$PG_PORT, data in $PG_DATA"
}
pg_createdb() { as_pg "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1"; }
pg_start

# 6. Raw claim/finish throughput of each backend -----------------------------------------------
log "store throughput: $STORE_TASKS tasks, batches of 64, 1, 2 and 4 threads (a Store each)"
SNAP=$(cpu_snapshot)
"$BUILD/bench/store_throughput" --sqlite "$WORK/store" --pg "$PG_URI/postgres" --pg-async \
  --tasks "$STORE_TASKS" --threads 1,2,4 --batch 64 >"$WORK/store.txt" ||
  die "store_throughput failed"
IDLE=$(idle_since "$SNAP")
while read -r line; do result "$line"; done <"$WORK/store.txt"
result "store_throughput_phase machine_idle=$IDLE"

# 7. Scale-out: one worker process against two, on one PostgreSQL database -------------------
write_urls "$SCALE_IMAGES" "$WORK/scale-urls.txt"
write_csv "$WORK/scale-urls.txt" "$WORK/scale.csv"
SCALE_PIDS=()
# An API-only node (it takes the upload and answers /status) and N worker processes, on a
# fresh database and storage folder.
start_scale_out() {  # NAME WORKER_PROCESSES
  local dir="$WORK/$1" db="$PG_URI/$1" i j
  mkdir -p "$dir/images"
  pg_createdb "$1"
  API_PORT=$(free_port)
  API="http://127.0.0.1:$API_PORT"
  "$BUILD/imgbatch" serve --workers 0 --listen "127.0.0.1:$API_PORT" --db "$db" \
    --storage "file:$dir/images" --allow-private-networks >"$dir/api.log" 2>&1 &
  IMGBATCH_PID=$!
  PIDS+=("$IMGBATCH_PID")
  wait_http "$API/health"
  SCALE_PIDS=()
  for ((i = 1; i <= $2; i++)); do
    "$BUILD/imgbatch" worker --workers 1 --download-concurrency "$SCALE_DOWNLOADS" --db "$db" \
      --storage "file:$dir/images" --allow-private-networks >"$dir/worker$i.log" 2>&1 &
    SCALE_PIDS+=($!)
    PIDS+=($!)
  done
  for ((i = 1; i <= $2; i++)); do  # ready once the start-up line is logged
    for j in $(seq 1 300); do grep -q "imgbatch worker:" "$dir/worker$i.log" && break; sleep 0.1; done
    grep -q "imgbatch worker:" "$dir/worker$i.log" || die "worker $i of $1 did not start, see $dir/worker$i.log"
  done
}
stop_scale_out() {
  local pid i
  for pid in "${SCALE_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${SCALE_PIDS[@]}"; do
    for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  stop_imgbatch
}
declare -A SCALE_SUM=([1]=0 [2]=0)
scale_out_run() {  # WORKER_PROCESSES ROUND
  local n=$1 name="scale_$1_$2" pid cpu=() snap rate
  start_scale_out "$name" "$n"
  log "scale-out: $SCALE_IMAGES images, $n worker process(es) of --workers 1, round $2"
  snap=$(cpu_snapshot)
  for pid in "${SCALE_PIDS[@]}"; do cpu+=("$(cpu_ticks "$pid")"); done
  START=$(now)
  ID=$(upload "$WORK/scale.csv")
  wait_completed "$ID" "$name" "$START"
  local each=() total=0 i=0
  for pid in "${SCALE_PIDS[@]}"; do
    local t=$(($(cpu_ticks "$pid") - cpu[i]))
    each+=("$(awk -v t="$t" -v hz="$TICKS" 'BEGIN { printf "%.1f", t / hz }')")
    total=$((total + t))
    i=$((i + 1))
  done
  rate=$(awk -v n="$SCALE_IMAGES" -v f="$WAIT_FAILED" -v s="$WAIT_SECONDS" 'BEGIN { printf "%.3f", (n - f) / s }')
  SCALE_SUM[$n]=$(awk -v a="${SCALE_SUM[$n]}" -v b="$rate" 'BEGIN { printf "%.3f", a + b }')
  result "scale_out worker_processes=$n round=$2 images=$SCALE_IMAGES failures=$WAIT_FAILED seconds=$WAIT_SECONDS images_per_s=$rate cpu_ms_per_image=$(awk -v t="$total" -v hz="$TICKS" -v n="$SCALE_IMAGES" 'BEGIN { printf "%.2f", t / hz * 1000 / n }') worker_cpu_s=$(IFS=,; echo "${each[*]}") worker_cores=$(awk -v t="$total" -v hz="$TICKS" -v s="$WAIT_SECONDS" 'BEGIN { printf "%.2f", t / hz / s }') machine_idle=$(idle_since "$snap")"
  [ "$WAIT_FAILED" -eq 0 ] || log "warning: $WAIT_FAILED images failed, see $WORK/$name/"
  stop_scale_out
}
# Alternating order (1 2, 2 1, …), so that a drift in the foreign load favours neither.
for ((round = 1; round <= SCALE_ROUNDS; round++)); do
  if ((round % 2)); then order="1 2"; else order="2 1"; fi
  for n in $order; do scale_out_run "$n" "$round"; done
done
ONE=$(awk -v s="${SCALE_SUM[1]}" -v r="$SCALE_ROUNDS" 'BEGIN { printf "%.3f", s / r }')
TWO=$(awk -v s="${SCALE_SUM[2]}" -v r="$SCALE_ROUNDS" 'BEGIN { printf "%.3f", s / r }')
result "ratio scale_out_two_over_one=$(ratio "$TWO" "$ONE") (target >= 1.80 on 2 cores; mean images_per_s one=$ONE two=$TWO over $SCALE_ROUNDS round(s))"
pg_stop

fi  # phases 6-7

# --- 8. recovery after kill -9 ----------------------------------------------------------------
# The end-to-end tests that assert the recovery bounds, run RECOVERY_ROUNDS times each; they
# print "[recovery] NAME: median X s over N run(s) (...)".
recovery_run() {  # BINARY TEST
  local out="$WORK/recovery_$1.log"
  log "recovery: $2, $RECOVERY_ROUNDS round(s)"
  IMGBATCH_RECOVERY_ROUNDS=$RECOVERY_ROUNDS "$BUILD/tests/e2e/$1" --gtest_filter="$2" >"$out" 2>&1 ||
    die "$2 failed, see $out (BENCH_KEEP=1 keeps it)"
  sed -n 's/^\[recovery\] /recovery /p' "$out" | while read -r line; do result "$line"; done
}
if [ -z "$ONLY" ] || [ "$ONLY" = recovery ]; then
  recovery_run e2e_test 'Crash.AServe*'
  recovery_run postgres_e2e_test 'PostgresScaleOut.AKilledWorker*'
fi

# --- 9. object storage ------------------------------------------------------------------------
if [ -z "$ONLY" ] || [ "$ONLY" = s3 ]; then
log "object storage: starting a one-node Ceph cluster (monitor, OSD on RAM, RADOS Gateway)"
mkfifo "$WORK/ceph.in"
"$BUILD/tests/support/ceph_cluster_main" <"$WORK/ceph.in" >"$WORK/ceph.out" 2>"$WORK/ceph.log" &
CEPH_MAIN=$!
PIDS+=($CEPH_MAIN)
exec 7>"$WORK/ceph.in"  # its stdin stays open until this script ends; then it tears down
for i in $(seq 1 600); do [ -s "$WORK/ceph.out" ] && break; sleep 0.1; done
CEPH_LINE=$(head -1 "$WORK/ceph.out")
[ -n "$CEPH_LINE" ] || die "the Ceph cluster did not start, see $WORK/ceph.log (BENCH_KEEP=1 keeps it)"
S3_ENDPOINT=$(echo "$CEPH_LINE" | field endpoint)
S3_REGION=$(echo "$CEPH_LINE" | field region)
S3_BUCKET=$(echo "$CEPH_LINE" | field bucket)
export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
AWS_ACCESS_KEY_ID=$(echo "$CEPH_LINE" | field access_key)
AWS_SECRET_ACCESS_KEY=$(echo "$CEPH_LINE" | field secret_key)
log "object storage: gateway $S3_ENDPOINT, bucket $S3_BUCKET"
# The gateway shares the cores: its daemons' CPU (children of ceph_cluster_main) is
# printed per image, since it is what S3 storage costs a machine that runs both.
mapfile -t CEPH_PIDS < <(pgrep -P "$CEPH_MAIN")
ceph_ticks() { local p t=0; for p in "${CEPH_PIDS[@]}"; do t=$((t + $(cpu_ticks "$p"))); done; echo "$t"; }
write_urls "$S3_IMAGES" "$WORK/s3-urls.txt"
write_csv "$WORK/s3-urls.txt" "$WORK/s3.csv"

storage_run() {  # KIND ROUND -> result line; adds images/s to STORAGE_SUM[KIND]
  local kind=$1 round=$2 name="storage-$1-$2" snap cpu0 start rate cpu
  if [ "$kind" = s3 ]; then
    start_imgbatch "$name" "$CORES" --storage "s3://$S3_BUCKET/$name" --s3-endpoint "$S3_ENDPOINT" \
      --s3-region "$S3_REGION"
  else
    start_imgbatch "$name" "$CORES"
  fi
  snap=$(cpu_snapshot)
  cpu0=$(cpu_ticks "$IMGBATCH_PID")
  ceph0=$(ceph_ticks)
  start=$(now)
  wait_completed "$(upload "$WORK/s3.csv")" "$name" "$start"
  local gateway_cpu
  gateway_cpu=$(awk -v t="$(($(ceph_ticks) - ceph0))" -v hz="$TICKS" -v n="$S3_IMAGES" 'BEGIN { printf "%.2f", t / hz * 1000 / n }')
  cpu=$(awk -v t="$(($(cpu_ticks "$IMGBATCH_PID") - cpu0))" -v hz="$TICKS" -v n="$S3_IMAGES" 'BEGIN { printf "%.2f", t / hz * 1000 / n }')
  rate=$(awk -v n="$S3_IMAGES" -v f="$WAIT_FAILED" -v s="$WAIT_SECONDS" 'BEGIN { printf "%.3f", (n - f) / s }')
  result "storage_e2e storage=$kind round=$round images=$S3_IMAGES failures=$WAIT_FAILED seconds=$WAIT_SECONDS images_per_s=$rate cpu_ms_per_image=$cpu gateway_cpu_ms_per_image=$gateway_cpu machine_idle=$(idle_since "$snap")"
  STORAGE_CPU[$kind]=$(awk -v a="${STORAGE_CPU[$kind]:-0}" -v b="$cpu" 'BEGIN { printf "%.3f", a + b }')
  STORAGE_TOTAL_CPU[$kind]=$(awk -v a="${STORAGE_TOTAL_CPU[$kind]:-0}" -v b="$cpu" -v g="$gateway_cpu" 'BEGIN { printf "%.3f", a + b + g }')
  [ "$WAIT_FAILED" -eq 0 ] || die "$WAIT_FAILED images failed with $kind storage, see $WORK/$name/imgbatch.log"
  STORAGE_SUM[$kind]=$(awk -v a="${STORAGE_SUM[$kind]:-0}" -v b="$rate" 'BEGIN { printf "%.3f", a + b }')
  stop_imgbatch
}
declare -A STORAGE_SUM STORAGE_CPU STORAGE_TOTAL_CPU
for ((round = 1; round <= S3_ROUNDS; round++)); do
  if ((round % 2)); then order="file s3"; else order="s3 file"; fi
  for kind in $order; do storage_run "$kind" "$round"; done
done
FILE_RATE=$(awk -v s="${STORAGE_SUM[file]}" -v r="$S3_ROUNDS" 'BEGIN { printf "%.3f", s / r }')
S3_RATE=$(awk -v s="${STORAGE_SUM[s3]}" -v r="$S3_ROUNDS" 'BEGIN { printf "%.3f", s / r }')
# by_total_cpu: imgbatch's CPU plus the Ceph daemons' (which run, idle, in file rounds too)
# per image, file over S3. When the two cores do nothing else it is what images/s comes to
# (both storages keep them busy); when other processes share the machine, images/s follows
# their load and this does not.
result "ratio s3_over_file=$(ratio "$S3_RATE" "$FILE_RATE") by_imgbatch_cpu=$(ratio "${STORAGE_CPU[file]}" "${STORAGE_CPU[s3]}") by_total_cpu=$(ratio "${STORAGE_TOTAL_CPU[file]}" "${STORAGE_TOTAL_CPU[s3]}") (target >= 0.85; mean images_per_s file=$FILE_RATE s3=$S3_RATE over $S3_ROUNDS round(s); the gateway's own CPU is in each s3 line)"

# PUT latency of the compressed photos, as stored by the first file run.
mapfile -t COMPRESSED < <(find "$WORK/storage-file-1/images" -name '*.jpg' | sort | head -"${#PHOTO_NAMES[@]}")
for target in "file:$WORK/put-latency" "s3://$S3_BUCKET/put-latency"; do
  result "$("$BUILD/bench/blob_put_latency" --storage "$target" --s3-endpoint "$S3_ENDPOINT" \
    --s3-region "$S3_REGION" --threads 4 --puts 1000 "${COMPRESSED[@]}")"
done
fi

# --- 10. quality targets and sizes (issue 14) -----------------------------------------------
if [ -z "$ONLY" ] || [ "$ONLY" = quality ]; then
  log "quality targets: quality_auto on ${#PHOTO_NAMES[@]} photos, $QUALITY_ROUNDS round(s) of CPU"
  SNAP=$(cpu_snapshot)
  "$BUILD/bench/quality_auto" --rounds "$QUALITY_ROUNDS" --dump "$WORK/quality" --compare-pixel-metric \
    "${PHOTO_NAMES[@]/#/$PHOTOS/}" >"$WORK/quality.txt" || die "quality_auto failed"
  IDLE=$(idle_since "$SNAP")
  while read -r line; do result "$line"; done <"$WORK/quality.txt"
  result "quality_phase machine_idle=$IDLE"
  /usr/bin/python3 "$ROOT/bench/ssim_check.py" "$PHOTOS" "$WORK/quality" >"$WORK/ssim.txt" ||
    die "ssim_check.py failed"
  while read -r line; do result "$line"; done <"$WORK/ssim.txt"
fi

# --- 11. fair turns (issue 13) ----------------------------------------------------------------
if [ -z "$ONLY" ] || [ "$ONLY" = fairness ]; then
# Seconds from POST /upload to `completed` of a FAIR_SMALL-image request whose URLs are new
# (?fair=TAG-i), polled every 50 ms.
small_request_seconds() {  # TAG
  local i start id status
  for ((i = 0; i < FAIR_SMALL; i++)); do
    echo "http://127.0.0.1:$ORIGIN_PORT/${PHOTO_NAMES[i % ${#PHOTO_NAMES[@]}]}?fair=$1-$i"
  done >"$WORK/fair-$1.txt"
  write_csv "$WORK/fair-$1.txt" "$WORK/fair-$1.csv"
  start=$(now)
  id=$(upload "$WORK/fair-$1.csv")
  while :; do
    status=$(curl -fsS "$API/status?request_id=$id&limit=1" | jq -r .status)
    case $status in completed) break ;; failed) die "small request $id failed" ;; esac
    awk -v a="$(now)" -v b="$start" -v l="$WAIT_LIMIT" 'BEGIN { exit !(a - b > l) }' &&
      die "small request $id not done after ${WAIT_LIMIT}s"
    sleep 0.05
  done
  awk -v a="$(now)" -v b="$start" 'BEGIN { printf "%.3f\n", a - b }'
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
start_imgbatch fairness "$CORES"
log "fair turns: a $FAIR_SMALL-image request alone, then while a $FAIR_BIG-image one runs, $FAIR_ROUNDS times each"
: >"$WORK/fair-idle.times"
for ((round = 1; round <= FAIR_ROUNDS; round++)); do
  small_request_seconds "idle$round" >>"$WORK/fair-idle.times"
done
write_urls "$FAIR_BIG" "$WORK/fair-big-urls.txt"
write_csv "$WORK/fair-big-urls.txt" "$WORK/fair-big.csv"
SNAP=$(cpu_snapshot)
BIG=$(upload "$WORK/fair-big.csv")
for i in $(seq 1 600); do
  read -r _ done _ _ < <(progress "$BIG")
  [ "$done" -ge 100 ] && break
  sleep 0.2
done
: >"$WORK/fair-busy.times"
for ((round = 1; round <= FAIR_ROUNDS; round++)); do
  small_request_seconds "busy$round" >>"$WORK/fair-busy.times"
done
read -r _ BIG_DONE _ _ < <(progress "$BIG")
IDLE_S=$(median <"$WORK/fair-idle.times")
BUSY_S=$(median <"$WORK/fair-busy.times")
result "fairness small=$FAIR_SMALL big=$FAIR_BIG idle_median_s=$IDLE_S busy_median_s=$BUSY_S idle_s=$(paste -sd, "$WORK/fair-idle.times") busy_s=$(paste -sd, "$WORK/fair-busy.times") big_done_by_then=$BIG_DONE machine_idle=$(idle_since "$SNAP")"
result "ratio fairness_busy_over_idle=$(ratio "$BUSY_S" "$IDLE_S") (target <= 3)"
stop_imgbatch
fi

# --- 12. repeats: shared sources and conditional downloads (issue 15) -----------------------
if [ -z "$ONLY" ] || [ "$ONLY" = reuse ]; then
# An nginx of its own, so that its log counts only this phase: "STATUS BODY_BYTES" a line.
REUSE_PORT=$(free_port)
mkdir -p "$WORK/nginx-reuse/tmp"
cat >"$WORK/nginx-reuse/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx-reuse/nginx.pid;
error_log $WORK/nginx-reuse/error.log warn;
events { worker_connections 1024; }
http {
  log_format counted '\$status \$body_bytes_sent';
  access_log $WORK/nginx-reuse/access.log counted;
  sendfile on;
  keepalive_requests 100000;
  client_body_temp_path $WORK/nginx-reuse/tmp;
  proxy_temp_path $WORK/nginx-reuse/tmp;
  fastcgi_temp_path $WORK/nginx-reuse/tmp;
  uwsgi_temp_path $WORK/nginx-reuse/tmp;
  scgi_temp_path $WORK/nginx-reuse/tmp;
  types { image/jpeg jpg jpeg; }
  server { listen 127.0.0.1:$REUSE_PORT; root $PHOTOS; }
}
CONF
"$NGINX" -p "$WORK/nginx-reuse" -c "$WORK/nginx-reuse/nginx.conf" -e "$WORK/nginx-reuse/error.log" &
PIDS+=($!)
wait_http "http://127.0.0.1:$REUSE_PORT/${PHOTO_NAMES[0]}"
REUSE_LOG="$WORK/nginx-reuse/access.log"
# COUNT URLs named TAG-i (distinct), each REPEAT times in a row of its own, round robin.
reuse_csv() {  # TAG COUNT REPEAT CSV
  local r i
  for ((r = 0; r < $3; r++)); do
    for ((i = 0; i < $2; i++)); do
      echo "http://127.0.0.1:$REUSE_PORT/${PHOTO_NAMES[i % ${#PHOTO_NAMES[@]}]}?reuse=$1-$i"
    done
  done >"$WORK/reuse-$1.txt"
  write_csv "$WORK/reuse-$1.txt" "$4"
}
# One upload, waited for; prints "SECONDS DOWNLOADS NOT_MODIFIED BODY_BYTES CPU_SECONDS" (the
# origin's log lines written meanwhile; the CPU of the imgbatch process meanwhile).
reuse_run() {  # CSV NAME
  local before start id ticks
  before=$(wc -l <"$REUSE_LOG")
  ticks=$(cpu_ticks "$IMGBATCH_PID")
  start=$(now)
  id=$(upload "$1")
  wait_completed "$id" "$2" "$start"
  [ "$WAIT_FAILED" = 0 ] || die "$2: $WAIT_FAILED image(s) failed"
  ticks=$(($(cpu_ticks "$IMGBATCH_PID") - ticks))
  sleep 0.2  # nginx writes its log line after the answer
  tail -n +"$((before + 1))" "$REUSE_LOG" |
    awk -v t="$WAIT_SECONDS" -v c="$ticks" -v hz="$TICKS" '$1 == 200 { n++ } $1 == 304 { m++ } { b += $2 }
      END { printf "%s %d %d %d %.2f\n", t, n, m, b, c / hz }'
}
SNAP=$(cpu_snapshot)
POLL_SECONDS=0.05
start_imgbatch reuse "$CORES"
reuse_csv first "$REUSE_IMAGES" 1 "$WORK/reuse-first.csv"
read -r FIRST_S FIRST_N _ FIRST_B _ < <(reuse_run "$WORK/reuse-first.csv" reuse-first)
read -r AGAIN_S AGAIN_N AGAIN_304 AGAIN_B _ < <(reuse_run "$WORK/reuse-first.csv" reuse-again)
result "reuse rerun images=$REUSE_IMAGES first_s=$FIRST_S first_downloads=$FIRST_N first_bytes=$FIRST_B rerun_s=$AGAIN_S rerun_downloads=$AGAIN_N rerun_304=$AGAIN_304 rerun_bytes=$AGAIN_B"
result "ratio reuse_rerun_speedup=$(ratio "$FIRST_S" "$AGAIN_S") (target >= 20) reuse_rerun_bytes_share=$(ratio "$AGAIN_B" "$FIRST_B") (target <= 0.02)"
UNIQUE=$((REUSE_IMAGES / 5))
reuse_csv alone "$UNIQUE" 1 "$WORK/reuse-alone.csv"
reuse_csv repeated "$UNIQUE" 5 "$WORK/reuse-repeated.csv"
read -r ALONE_S ALONE_N _ _ _ < <(reuse_run "$WORK/reuse-alone.csv" reuse-alone)
read -r REP_S REP_N _ _ _ < <(reuse_run "$WORK/reuse-repeated.csv" reuse-repeated)
result "reuse repeats urls=$UNIQUE rows=$((UNIQUE * 5)) alone_s=$ALONE_S alone_downloads=$ALONE_N repeated_s=$REP_S repeated_downloads=$REP_N"
result "ratio reuse_repeated_over_alone=$(ratio "$REP_S" "$ALONE_S") (target <= 1.1) repeated_downloads=$REP_N (target $UNIQUE)"
stop_imgbatch
# No regression without repeats: new URLs with reuse on and off, alternating (other load on
# a shared machine comes and goes), the best of two of each; and the CPU the process used,
# which that load disturbs much less.
ON_BEST=; OFF_BEST=; ON_CPU_BEST=; OFF_CPU_BEST=
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
first_run() {  # on|off ROUND -> "SECONDS CPU_SECONDS"
  local seconds cpu
  if [ "$1" = on ]; then start_imgbatch "reuse-$1$2" "$CORES"; else start_imgbatch "reuse-$1$2" "$CORES" --reuse off; fi
  reuse_csv "$1$2" "$REUSE_IMAGES" 1 "$WORK/reuse-$1$2.csv"
  read -r seconds _ _ _ cpu < <(reuse_run "$WORK/reuse-$1$2.csv" "reuse-$1$2")
  stop_imgbatch
  echo "$seconds $cpu"
}
for round in 1 2; do
  if [ "$round" = 1 ]; then  # each goes first once
    read -r ON_S ON_CPU < <(first_run on "$round")
    read -r OFF_S OFF_CPU < <(first_run off "$round")
  else
    read -r OFF_S OFF_CPU < <(first_run off "$round")
    read -r ON_S ON_CPU < <(first_run on "$round")
  fi
  result "reuse first_run round=$round images=$REUSE_IMAGES on_s=$ON_S on_cpu_s=$ON_CPU off_s=$OFF_S off_cpu_s=$OFF_CPU"
  ON_BEST=$(best "$ON_BEST" "$ON_S"); OFF_BEST=$(best "$OFF_BEST" "$OFF_S")
  ON_CPU_BEST=$(best "$ON_CPU_BEST" "$ON_CPU"); OFF_CPU_BEST=$(best "$OFF_CPU_BEST" "$OFF_CPU")
done
result "reuse first_run machine_idle=$(idle_since "$SNAP")"
result "ratio reuse_first_run_on_over_off=$(ratio "$ON_BEST" "$OFF_BEST") (target <= 1.05) cpu_on_over_off=$(ratio "$ON_CPU_BEST" "$OFF_CPU_BEST")"
POLL_SECONDS=0.2
fi

log "done; results:"
cat "$RESULTS" >&2
