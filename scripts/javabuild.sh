#!/usr/bin/env bash
# Builds the Java programs of a folder against Kafka's jars: fetches the
# folder's pom.xml dependencies (runtime scope, -Dkafka.version=
# EDDY_KAFKA_VERSION, default 4.4.0) from Maven Central into
# .cache/<name>-<V>/libs once, compiles the folder's *.java with javac into
# .cache/<name>-<V>/classes when a source is newer, and prints the classpath.
#
#   scripts/javabuild.sh bench/kafka-streams kafka-streams
set -euo pipefail
if [[ $# -ne 2 ]]; then
  echo "usage: $0 <source folder> <cache name>" >&2
  exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
V="${EDDY_KAFKA_VERSION:-4.4.0}"
SRC="$ROOT/$1"
HOME_DIR="$ROOT/.cache/$2-$V"
LIBS="$HOME_DIR/libs"
CLASSES="$HOME_DIR/classes"
if [[ ! -f "$LIBS/.complete" ]]; then
  mkdir -p "$HOME_DIR"
  tmp="$(mktemp -d "$HOME_DIR/fetch.XXXXXX")"
  if ! mvn -B -q -Dstyle.color=never -f "$SRC/pom.xml" -Dkafka.version="$V" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
    cat "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    echo "javabuild.sh: Maven could not fetch the dependencies of $1 (Kafka $V)" >&2
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
  javac --release 17 -nowarn -Xlint:-unchecked -cp "$LIBS/*" -d "$CLASSES" "$SRC"/*.java >&2
  touch "$stamp"
fi
echo "$CLASSES:$LIBS/*"
