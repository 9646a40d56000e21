#!/usr/bin/env bash
# Fetches the Kafka Streams jars (pom.xml, runtime scope) from Maven Central
# into .cache/kafka-streams-<V>/libs once, and compiles the reference programs
# with javac into .cache/kafka-streams-<V>/classes. Prints the classpath.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/../../scripts/javabuild.sh" bench/kafka-streams kafka-streams
