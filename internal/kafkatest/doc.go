// Package kafkatest holds helpers for tests that talk to Kafka.
//
// Two kinds of broker are available:
//
//   - [RealBrokers]: a real Apache Kafka broker, started by scripts/kafka.sh
//     (make test does this) and announced through the EDDY_KAFKA_BROKERS
//     environment variable, a comma-separated list of host:port. Tests that
//     call it are skipped when the variable is unset, so plain `go test ./...`
//     still works without Java or Kafka.
//   - [Embedded]: an in-process fake cluster (franz-go's kfake), private to the
//     test and closed when it ends. Fast, always available, good for unit tests,
//     but not Kafka: conformance claims must be checked on [RealBrokers] too.
//
// The real broker is shared by every test of a run (and by parallel packages),
// so tests must not reuse topic names or application ids: build them with
// [UniqueName].
package kafkatest
