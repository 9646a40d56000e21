// Package chaostest proves an Eddy cluster safe under failures, on a real
// Kafka broker: three word count processes (examples/01-wordcount), each in a
// network namespace of its own, are killed, paused past their lease, joined
// by a fourth and cut off from each other's gossip by a seeded random
// schedule while a producer writes lines of known words. At the end the
// output must hold every count 1..n of every word produced n times (under
// exactly-once each once, in order, and nothing more; at-least-once may
// repeat counts and go past n, never skip one) and no task may have been
// owned by two processes at once, as the processes' own "owning task" and
// "stopped owning task" log lines tell.
//
// The test needs root (ip netns, veth pairs, a bridge, blackhole routes) and
// EDDY_KAFKA_BROKERS set, the convention of the real-Kafka tests; it starts a
// broker of its own with scripts/kafka.sh on the bridge address, so that every
// namespace reaches it. About three and a half minutes in all by default.
//
//   - EDDY_CHAOS_DURATION: how long the chaos lasts for each guarantee
//     (default 90s); a long run, EDDY_CHAOS_DURATION=10m, needs go test's
//     -timeout raised to about 30m.
//   - EDDY_CHAOS_SEED: replays a schedule (the test logs its seed).
//   - EDDY_CHAOS_BIN: runs this word count binary instead of building
//     examples/01-wordcount.
//
// When the test fails it keeps the nodes' logs and state directories and
// says where.
//
// The pure parts (the slog line parser, ownership intervals and their overlap
// check, the output checks, the schedule) are files of their own with unit
// tests; the rest drives processes and the network. It imports Eddy's example
// helpers and internal/kafkatest, never the library: what it tests is what
// the processes do.
package chaostest
