#!/usr/bin/env bash
# Fetches the Kafka Streams jars (pom.xml, runtime scope) from Maven Central
# into .cache/kafka-streams-<V>/libs once, and compiles the reference programs
# with javac into .cache/kafka-streams-<V>/classes. Prints the classpath.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
V="${EDDY_KAFKA_VERSION:-4.4.0}"
HOME_DIR="$ROOT/.cache/kafka-streams-$V"
LIBS="$HOME_DIR/libs"
CLASSES="$HOME_DIR/classes"
SRC="$ROOT/bench/kafka-streams"
if [[ ! -f "$LIBS/.complete" ]]; then
  mkdir -p "$HOME_DIR"
  tmp="$(mktemp -d "$HOME_DIR/fetch.XXXXXX")"
  if ! mvn -B -q -Dstyle.color=never -f "$SRC/pom.xml" -Dkafka.version="$V" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
    cat "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    echo "build.sh: Maven could not fetch kafka-streams $V" >&2
    exit 1
  fi
  rm -rf "$LIBS"
  mv "$tmp/libs" "$LIBS"
  rm -rf "$tmp"
  touch "$LIBS/.complete"
fi
stamp="$CLASSES/.stamp"
if [[ ! -f "$stamp" ]] || [[ -n "$(find "$SRC" -name '*.java' -newer "$stamp")" ]]; then
  rm -rf "$CLASSES"
  mkdir -p "$CLASSES"
  javac --release 17 -nowarn -cp "$LIBS/*" -d "$CLASSES" "$SRC"/*.java
  touch "$stamp"
fi
echo "$CLASSES:$LIBS/*"
