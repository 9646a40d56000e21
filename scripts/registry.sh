#!/usr/bin/env bash
# Runs Apicurio Registry (in-memory storage) from its Maven Central
# distribution, for the schema-registry serdes' tests: it serves the
# Confluent-compatible API at http://HOST:PORT/apis/ccompat/v7.
#
#   scripts/registry.sh fetch     fetch and unpack the distribution into .cache (once)
#   scripts/registry.sh start     start the registry (idempotent) and wait until it answers
#   scripts/registry.sh stop      stop it (idempotent)
#   scripts/registry.sh status    exit 0 if running, 1 if not
#   scripts/registry.sh url       print the Confluent-compatible API's URL
#   scripts/registry.sh logs      print the tail of its log
#
# Environment:
#   EDDY_REGISTRY_VERSION        Apicurio Registry version (default 2.6.13.Final: the
#                                3.x distributions need Java 21 or ship no runner jar)
#   EDDY_REGISTRY_HOST           address it binds (default 127.0.0.1)
#   EDDY_REGISTRY_PORT           HTTP port (default 19342)
#   EDDY_REGISTRY_START_TIMEOUT  seconds to wait for readiness (default 120)
#   EDDY_REGISTRY_HEAP           JVM heap (default 384m)
#   JAVA_HOME                    JDK to use (else `java` from PATH; Java 17 works)
#
# Layout (git-ignored): .cache/apicurio-registry-<V>/ (the unpacked distribution),
# .cache/registry-run-<port>/ (registry.pid, registry.log). The storage is in
# memory: every start is an empty registry.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${EDDY_REGISTRY_VERSION:-2.6.13.Final}"
HOST="${EDDY_REGISTRY_HOST:-127.0.0.1}"
PORT="${EDDY_REGISTRY_PORT:-19342}"
START_TIMEOUT="${EDDY_REGISTRY_START_TIMEOUT:-120}"
STOP_TIMEOUT=30
HEAP="${EDDY_REGISTRY_HEAP:-384m}"
DEP_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
ARTIFACT="io.apicurio:apicurio-registry-app:$VERSION:tar.gz:all"

CACHE="$ROOT/.cache"
HOME_DIR="$CACHE/apicurio-registry-$VERSION"
RUNNER="$HOME_DIR/apicurio-registry-app-$VERSION-runner.jar"
RUN="$CACHE/registry-run-$PORT"
PIDFILE="$RUN/registry.pid"
LOG="$RUN/registry.log"
URL="http://$HOST:$PORT/apis/ccompat/v7"

if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA="java"
fi

trap '' PIPE
say() { printf 'registry.sh: %s\n' "$*" 2>/dev/null || true; }
die() { printf 'registry.sh: error: %s\n' "$*" >&2 2>/dev/null || true; exit 1; }
usage() { sed -n '2,26p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

fetch() {
  [[ -f "$HOME_DIR/.complete" ]] && return 0
  command -v mvn >/dev/null || die "mvn not found (Maven fetches the registry)"
  mkdir -p "$CACHE"
  exec 8>"$CACHE/.registry-$VERSION.lock"
  flock 8
  if [[ -f "$HOME_DIR/.complete" ]]; then exec 8>&-; return 0; fi
  local tmp start
  tmp="$(mktemp -d "$CACHE/registry-$VERSION.fetch.XXXXXX")"
  start=$(date +%s)
  say "fetching $ARTIFACT with Maven (once) ..."
  if ! mvn -B -q -Dstyle.color=never "$DEP_PLUGIN:copy" -Dartifact="$ARTIFACT" \
      -DoutputDirectory="$tmp" >"$tmp/mvn.log" 2>&1; then
    cat "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    die "Maven could not fetch $ARTIFACT"
  fi
  mkdir -p "$tmp/dist"
  tar -xzf "$tmp/apicurio-registry-app-$VERSION-all.tar.gz" -C "$tmp/dist"
  [[ -f "$tmp/dist/apicurio-registry-app-$VERSION-runner.jar" ]] || { rm -rf "$tmp"; die "no runner jar in $ARTIFACT"; }
  rm -rf "$HOME_DIR"
  mv "$tmp/dist" "$HOME_DIR"
  rm -rf "$tmp"
  touch "$HOME_DIR/.complete"
  exec 8>&-
  say "fetched into ${HOME_DIR#"$ROOT"/} ($(du -sh "$HOME_DIR" | cut -f1)) in $(( $(date +%s) - start ))s"
}

running_pid() {
  [[ -f "$PIDFILE" ]] || return 0
  local pid cmdline=""
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  if [[ "$pid" =~ ^[0-9]+$ ]]; then
    cmdline="$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" || true)"
  fi
  # Only a live JVM running our runner jar on our port counts (pids get reused).
  if [[ "$cmdline" == *"$RUNNER"* && "$cmdline" == *"quarkus.http.port=$PORT"* ]] && kill -0 "$pid" 2>/dev/null; then
    echo "$pid"
  else
    rm -f "$PIDFILE"
  fi
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null; } 2>/dev/null

# ready: the ccompat API answers a subjects listing.
ready() {
  local body
  body="$(exec 3<>"/dev/tcp/$HOST/$PORT" && printf 'GET /apis/ccompat/v7/subjects HTTP/1.0\r\nHost: %s\r\n\r\n' "$HOST" >&3 && timeout 5 cat <&3)" || return 1
  [[ "$body" == "HTTP/1."?" 200"* ]]
} 2>/dev/null

cmd_start() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    say "already running (pid $pid) at $URL"
    return 0
  fi
  port_open && die "port $PORT is already in use by another process (set EDDY_REGISTRY_PORT)"
  command -v "$JAVA" >/dev/null || die "java not found (set JAVA_HOME or put java on PATH)"
  fetch
  mkdir -p "$RUN"
  : >"$LOG"
  local t0
  t0=$(date +%s%N)
  say "starting Apicurio Registry $VERSION at $URL, log in ${LOG#"$ROOT"/}"
  # C1 only and the serial GC: a test registry starts sooner and needs no peak speed.
  # The management interface is kept on loopback too, should it be enabled.
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PIDFILE" \
    "$JAVA" "-Xms$HEAP" "-Xmx$HEAP" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    "-Dquarkus.http.host=$HOST" "-Dquarkus.http.port=$PORT" \
    "-Dquarkus.management.host=$HOST" "-Dquarkus.management.port=$(( PORT + 1 ))" \
    -jar "$RUNNER" </dev/null >>"$LOG" 2>&1 &
  local deadline=$(( $(date +%s) + START_TIMEOUT ))
  while ! ready; do
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$LOG" >&2
      die "registry exited during startup"
    fi
    if (( $(date +%s) >= deadline )); then
      tail -n 40 "$LOG" >&2
      cmd_stop >&2 || true
      die "registry did not answer within ${START_TIMEOUT}s"
    fi
    sleep 0.3
  done
  local ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  say "ready: pid $(cat "$PIDFILE"), $URL, in $(( ms / 1000 )).$(printf '%03d' $(( ms % 1000 )))s"
}

cmd_stop() {
  local pid
  pid="$(running_pid)"
  if [[ -z "$pid" ]]; then
    say "not running"
    return 0
  fi
  say "stopping pid $pid"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while kill -0 "$pid" 2>/dev/null; do
    if (( $(date +%s) >= deadline )); then
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$PIDFILE"
  say "stopped"
}

cmd_status() {
  local pid
  pid="$(running_pid)"
  if [[ -n "$pid" ]]; then
    say "running (pid $pid) at $URL"
    return 0
  fi
  say "not running"
  return 1
}

case "${1:-}" in
  fetch) fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  url) echo "$URL" ;;
  logs) tail -n "${2:-100}" "$LOG" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
