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
cp="$("$(dirname "${BASH_SOURCE[0]}")/../javabuild.sh" scripts/ksref ksref)"
main="$1"
shift
exec java -cp "$cp" "$main" "$@"
