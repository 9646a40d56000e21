// Package bench holds Eddy's benchmarks (see docs/benchmarks/README.md).
//
// In this package: Go micro-benchmarks of the per-record hot path
// (hotpath_test.go: ns and allocations per record through a stateless chain
// and through a count, on the real task code with Kafka replaced by a
// discarding producer) and of the word-count example end to end
// (wordcount_test.go: on the embedded broker, and on real Kafka when
// EDDY_KAFKA_BROKERS is set).
//
// Beside it: the side-by-side benchmarks against Kafka Streams, goka and a
// raw franz-go pipe — the driver (cmd/bench, `make bench`, `make
// bench-quick`), one program per system (cmd/eddy-bench, cmd/raw-bench,
// goka/ and kafka-streams/), the definitions they share (workload/), and the
// chart renderer (chart/); cmd/membudget measures RocksDB memory with many
// stores under one budget (docs/benchmarks/memory-budget.md); cmd/clusterbench
// measures the cluster's failover and join with word-count nodes
// (cmd/cluster-node) on real Kafka (docs/benchmarks/cluster.md, `make
// bench-cluster`). goka/ and
// chart/ are modules of their own so that
// their dependencies stay out of Eddy's go.mod.
package bench
