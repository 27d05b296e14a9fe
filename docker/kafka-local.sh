#!/usr/bin/env bash
# Run a single-node Apache Kafka 4.x broker (KRaft, broker+controller in one
# JVM) on 127.0.0.1 without Docker. The jars come from Maven Central via mvn
# and docker/pom.xml; see docker/README.md.
#
#   docker/kafka-local.sh start|stop|status|restart
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

KAFKA_VERSION="${OMNISTOCK_KAFKA_VERSION:-4.3.1}"
CACHE_DIR="${OMNISTOCK_CACHE_DIR:-$HOME/.cache/omnistock}"
LIBS_DIR="$CACHE_DIR/kafka/$KAFKA_VERSION/libs"
DATA_DIR="${OMNISTOCK_KAFKA_DIR:-$HOME/.cache/omnistock/kafka-data}"
HOST=127.0.0.1
PORT="${OMNISTOCK_KAFKA_PORT:-9092}"
CONTROLLER_PORT=$((PORT + 1))
START_TIMEOUT="${OMNISTOCK_KAFKA_START_TIMEOUT:-60}"
STOP_TIMEOUT=20
# Fixed cluster id (22-char base64 UUID): storage is formatted once with it.
CLUSTER_ID="${OMNISTOCK_KAFKA_CLUSTER_ID:-b21uaXN0b2NrLWxvY2FsMQ}"

PROPS="$DATA_DIR/server.properties"
LOG4J="$DATA_DIR/log4j2.properties"
LOG_DIRS="$DATA_DIR/kraft-logs"
PID_FILE="$DATA_DIR/kafka.pid"
OUT_LOG="$DATA_DIR/kafka.log"

log() { printf 'kafka-local: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

find_java() {
    local j=""
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        j="$JAVA_HOME/bin/java"
    elif [[ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]]; then
        j=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
    else
        j="$(command -v java || true)"
    fi
    [[ -n "$j" ]] || die "no java found (Kafka 4 needs JDK 17+; set JAVA_HOME)"
    local major
    major="$("$j" -XshowSettings:properties -version 2>&1 \
        | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')"
    [[ -n "$major" && "$major" -ge 17 ]] \
        || die "$j is Java ${major:-?}; Kafka 4 needs 17+ (set JAVA_HOME)"
    JAVA="$j"
}

# --- probes ----------------------------------------------------------------

port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$PORT" 2>/dev/null
}

# Exit 0 when a Kafka broker on HOST:PORT answers a Metadata request with at
# least one broker (i.e. it is unfenced and serving metadata). Uses only the
# python3 standard library (raw Kafka protocol, Metadata v4).
metadata_ready() {
    if ! command -v python3 >/dev/null 2>&1; then
        port_open   # no python3: best effort
        return
    fi
    python3 - "$HOST" "$PORT" <<'PY' 2>/dev/null
import socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
cid = b"kafka-local-probe"
# header v1: api_key=3 (Metadata), api_version=4, correlation_id, client_id
# body v4: topics=[] (none), allow_auto_topic_creation=false
req = struct.pack(">hhih", 3, 4, 4242, len(cid)) + cid + struct.pack(">ib", 0, 0)
with socket.create_connection((host, port), timeout=3) as s:
    s.settimeout(3)
    s.sendall(struct.pack(">i", len(req)) + req)
    def read(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError
            buf += chunk
        return buf
    (size,) = struct.unpack(">i", read(4))
    resp = read(size)
corr, _throttle, nbrokers = struct.unpack_from(">iii", resp, 0)
sys.exit(0 if corr == 4242 and nbrokers >= 1 else 1)
PY
}

pid_alive() {
    local pid
    [[ -f "$PID_FILE" ]] || return 1
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # guard against a recycled pid
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'kafka\.Kafka' || return 1
    echo "$pid"
}

# --- setup -------------------------------------------------------------------

fetch_libs() {
    if [[ -d "$LIBS_DIR" ]]; then
        return
    fi
    command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to fetch the Kafka jars)"
    log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $LIBS_DIR (one time)..."
    local tmp="$LIBS_DIR.tmp.$$" mvn_log="$LIBS_DIR.mvn.log"
    rm -rf "$tmp"
    mkdir -p "$(dirname "$LIBS_DIR")"
    if ! mvn -B -Dstyle.color=never -f "$SCRIPT_DIR/pom.xml" \
            dependency:copy-dependencies \
            -Dkafka.version="$KAFKA_VERSION" \
            -DincludeScope=runtime \
            -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
        grep -E 'ERROR|BUILD' "$mvn_log" | head -n 20 >&2 || tail -n 20 "$mvn_log" >&2
        rm -rf "$tmp"
        die "mvn could not fetch the Kafka jars (full output: $mvn_log)"
    fi
    rm -f "$mvn_log"
    ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "mvn ran but no kafka_2.13 jar was copied"; }
    mv "$tmp" "$LIBS_DIR"
    log "jars ready ($(ls "$LIBS_DIR" | wc -l) files)"
}

write_config() {
    mkdir -p "$DATA_DIR" "$LOG_DIRS"
    # Rewritten on every start so that a changed OMNISTOCK_KAFKA_PORT applies
    # (the static quorum below keeps no addresses in the formatted storage).
    cat >"$PROPS" <<EOF
# Written by docker/kafka-local.sh on every start: edits here are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$LOG_DIRS
num.partitions=1
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
    cat >"$LOG4J" <<'EOF'
# Written by docker/kafka-local.sh: console only (redirected to kafka.log).
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.state.name = state.change.logger
logger.state.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
}

format_storage() {
    if [[ -f "$LOG_DIRS/meta.properties" ]]; then
        return
    fi
    log "formatting storage in $LOG_DIRS (cluster id $CLUSTER_ID)..."
    local out
    if ! out="$("$JAVA" -Xmx256m -XX:ActiveProcessorCount=2 \
            -Dlog4j2.configurationFile="$LOG4J" -cp "$LIBS_DIR/*" \
            kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$PROPS" 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "storage format failed"
    fi
}

# --- commands ------------------------------------------------------------------

print_log_tail() {
    if [[ -f "$OUT_LOG" ]]; then
        if grep -qE '^\[[^]]*\] (ERROR|FATAL)|^Caused by:' "$OUT_LOG"; then
            log "first errors in $OUT_LOG:"
            grep -E '^\[[^]]*\] (ERROR|FATAL)|^Caused by:' "$OUT_LOG" | head -n 10 | cut -c1-400 >&2
        fi
        log "last lines of $OUT_LOG:"
        tail -n 25 "$OUT_LOG" | cut -c1-400 >&2
    fi
}

# The PLAINTEXT port a running broker was started with (from server.properties).
running_port() {
    sed -n 's/^listeners=PLAINTEXT:\/\/[^:]*:\([0-9]*\),.*/\1/p' "$PROPS" 2>/dev/null
}

# wait_ready PID [own]: "own" = we just launched it, so kill it on time-out.
wait_ready() {
    local pid="$1" own="${2:-}" start=$SECONDS
    while (( SECONDS - start < START_TIMEOUT )); do
        if ! kill -0 "$pid" 2>/dev/null; then
            print_log_tail
            rm -f "$PID_FILE"
            die "broker process $pid exited during startup"
        fi
        if port_open && metadata_ready; then
            return 0
        fi
        sleep 0.5
    done
    print_log_tail
    if [[ "$own" == own ]]; then
        log "broker not ready after ${START_TIMEOUT}s; killing pid $pid"
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$PID_FILE"
    fi
    die "broker did not become ready on $HOST:$PORT within ${START_TIMEOUT}s"
}

cmd_start() {
    local t0=$SECONDS pid
    if pid="$(pid_alive)"; then
        local rport
        rport="$(running_port)"
        if [[ -n "$rport" && "$rport" != "$PORT" ]]; then
            die "the broker of $DATA_DIR already runs (pid $pid) on port $rport, not $PORT; stop it first or use another OMNISTOCK_KAFKA_DIR"
        fi
        log "broker pid $pid already started; waiting until it is ready..."
        wait_ready "$pid"
        log "broker already running on $HOST:$PORT (pid $pid); nothing to do"
        return 0
    fi
    if port_open; then
        if metadata_ready; then
            log "a Kafka broker already answers on $HOST:$PORT; nothing to do"
            return 0
        fi
        die "port $HOST:$PORT is in use by something that is not a ready Kafka broker"
    fi
    rm -f "$PID_FILE"

    find_java
    fetch_libs
    write_config
    format_storage

    [[ -f "$OUT_LOG" ]] && mv -f "$OUT_LOG" "$OUT_LOG.1"
    local -a jvm_opts=(
        -Xms256m -Xmx768m
        -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
        -XX:+ExplicitGCInvokesConcurrent -XX:ActiveProcessorCount=2
        -Djava.awt.headless=true
        -Dlog4j2.configurationFile="$LOG4J"
    )
    # shellcheck disable=SC2206 # intentional word splitting of extra options
    [[ -n "${OMNISTOCK_KAFKA_JVM_OPTS:-}" ]] && jvm_opts+=(${OMNISTOCK_KAFKA_JVM_OPTS})

    log "starting Kafka $KAFKA_VERSION on $HOST:$PORT (controller $CONTROLLER_PORT), log: $OUT_LOG"
    # The inner shell writes its own pid and then execs java, so the pid file
    # holds the JVM's pid; setsid detaches it from this terminal's signals.
    PID_FILE="$PID_FILE" nohup setsid bash -c 'echo $$ >"$PID_FILE"; exec "$@"' kafka-local \
        "$JAVA" "${jvm_opts[@]}" -cp "$LIBS_DIR/*" kafka.Kafka "$PROPS" \
        </dev/null >"$OUT_LOG" 2>&1 9>&- &
    local i
    for i in $(seq 1 50); do
        [[ -s "$PID_FILE" ]] && break
        sleep 0.1
    done
    pid="$(cat "$PID_FILE" 2>/dev/null || true)"
    [[ "$pid" =~ ^[0-9]+$ ]] || die "could not read the broker pid from $PID_FILE"

    wait_ready "$pid" own
    log "broker ready on $HOST:$PORT (pid $pid) in $((SECONDS - t0))s"
}

cmd_stop() {
    local pid
    if ! pid="$(pid_alive)"; then
        # Not started via our pid file: look for a broker using our config file.
        pid="$(pgrep -f "kafka\.Kafka $PROPS\$" | head -n1 || true)"
        if [[ -z "$pid" ]]; then
            rm -f "$PID_FILE"
            if port_open; then
                log "something answers on $HOST:$PORT but it was not started by this script; not touching it"
                return 1
            fi
            log "broker not running"
            return 0
        fi
    fi
    log "stopping broker pid $pid (SIGTERM)..."
    kill -TERM "$pid" 2>/dev/null || true
    local start=$SECONDS
    while kill -0 "$pid" 2>/dev/null; do
        if (( SECONDS - start >= STOP_TIMEOUT )); then
            log "still running after ${STOP_TIMEOUT}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
    rm -f "$PID_FILE"
    log "broker stopped in $((SECONDS - start))s"
}

cmd_status() {
    local pid
    if pid="$(pid_alive)"; then
        PORT="$(running_port)"; PORT="${PORT:-${OMNISTOCK_KAFKA_PORT:-9092}}"
        if metadata_ready; then
            echo "kafka-local: running on $HOST:$PORT (pid $pid, data $DATA_DIR)"
        else
            echo "kafka-local: process running (pid $pid) but not serving on $HOST:$PORT yet"
        fi
        return 0
    fi
    if port_open && metadata_ready; then
        echo "kafka-local: a Kafka broker answers on $HOST:$PORT (not started by this script)"
        return 0
    fi
    echo "kafka-local: not running"
    return 3
}

# Serialise start/stop of one data dir (e.g. parallel test jobs).
take_lock() {
    mkdir -p "$DATA_DIR"
    exec 9>"$DATA_DIR/.lock"
    flock -w 180 9 || die "another kafka-local.sh holds $DATA_DIR/.lock"
}

case "${1:-}" in
    start) take_lock; cmd_start ;;
    stop) take_lock; cmd_stop ;;
    status) cmd_status ;;
    restart) take_lock; cmd_stop; cmd_start ;;
    *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
