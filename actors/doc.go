// Package actors is the actor system of one node: a task actor per assigned
// task (wrapping a partition.Task, processing its records one at a time), a
// child of the node actor, which applies assignments and supervises the task
// actors (supervision.go: restarts with backoff, lost tasks, fatal errors);
// the commit and wall-clock loops; and the fetcher that reads the input
// partitions of the node's tasks (manual assignment, no consumer group
// membership) and hands records to task actors in batches. Standby and
// warm-up tasks run as standby actors (standby.go), children of the node
// actor too, fed by one changelog consumer per node (standby_fetcher.go).
//
// actors imports partition, state and topology.
package actors
