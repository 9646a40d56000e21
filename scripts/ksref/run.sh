#!/usr/bin/env bash
# Runs a Kafka Streams reference program of this folder on Kafka Streams'
# own TopologyTestDriver, to check by hand what Kafka Streams does where a
# test of Eddy pins its behaviour. Not part of the tests: they keep their
# expected values written out.
#
#   scripts/ksref/run.sh WindowScript streamtest/testdata/windows/X.txt
#       prints the outputs and drop counts of a window script
#   scripts/ksref/run.sh WireBytes
#       prints the bytes of Kafka Streams' windowed serdes and store keys
#
# Fetches kafka-streams and kafka-streams-test-utils (EDDY_KAFKA_VERSION,
# default 4.4.0) from Maven Central into .cache/ksref-<V> once.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
V="${EDDY_KAFKA_VERSION:-4.4.0}"
HOME_DIR="$ROOT/.cache/ksref-$V"
LIBS="$HOME_DIR/libs"
CLASSES="$HOME_DIR/classes"
SRC="$ROOT/scripts/ksref"
if [[ ! -f "$LIBS/.complete" ]]; then
  mkdir -p "$HOME_DIR"
  tmp="$(mktemp -d "$HOME_DIR/fetch.XXXXXX")"
  if ! mvn -B -q -Dstyle.color=never -f "$SRC/pom.xml" -Dkafka.version="$V" \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$tmp/libs" >"$tmp/mvn.log" 2>&1; then
    cat "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    echo "run.sh: Maven could not fetch kafka-streams $V" >&2
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
  javac --release 17 -nowarn -Xlint:-unchecked -cp "$LIBS/*" -d "$CLASSES" "$SRC"/*.java
  touch "$stamp"
fi
main="$1"
shift
exec java -cp "$CLASSES:$LIBS/*" "$main" "$@"
