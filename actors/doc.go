// Package actors is the actor system of one node: a task actor per assigned
// task (wrapping a partition.Task, processing its records one at a time), the
// node that applies assignments and commits on an interval, and the fetcher
// that reads the input partitions of the node's tasks (manual assignment, no
// consumer group membership) and hands records to task actors in batches.
//
// actors imports partition, state and topology.
package actors
