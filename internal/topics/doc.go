// Package topics holds what Eddy does to its internal topics beyond creating
// them: the configuration repartition topics must have, the check of existing
// ones, and the purge of repartition records the application has committed.
//
// It imports nothing of Eddy but internal/kretry: the root package hands it
// topic names, a Kafka client and the consumer group, so it stays independent
// of how tasks run and commit.
package topics
