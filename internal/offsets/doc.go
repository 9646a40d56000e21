// Package offsets reads what an application committed to its consumer group
// (Eddy never joins the group as a member: see docs/decisions/0001): the
// committed input offsets of a task with the commit point stored beside
// them, read stable so that a transactional commit in flight is waited for;
// what holds offsets pending when they stay unstable; and the start and end
// offsets of input partitions. It imports partition (CommitPoint) and
// actors (InputOffsets), and is used by the root package.
package offsets
