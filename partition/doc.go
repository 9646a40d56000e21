// Package partition is the task: one sub-topology running on one partition
// number. As Kafka Streams splits StreamTask from ProcessorStateManager and
// ProcessorContext, a task is three types, each with one concern:
//
//   - Task (task.go, commit.go) is the lifecycle, with checked state
//     transitions, and processing: a record queue per input partition, the
//     head record with the lowest timestamp next, stream time, punctuation,
//     and commits with the ownership lease (fencing, ConfirmOwnership,
//     Release). It sends through a RecordCollector (outputs, repartition and
//     changelog records) and delegates its stores and its processors' view
//     of it to the other two.
//   - StateManager (state_manager.go, state_restore.go, rollback.go,
//     source_table.go, cache.go) is a task's stores and their durability:
//     the checkpoint, opening and wiping engines, restoring from changelogs
//     and source topics, rolling back the uncommitted tail under
//     at-least-once, record caches, flushing and closing. It knows nothing
//     of processing and reaches the producer only through ChangelogWriter,
//     so a GlobalTask uses it for its stores, and a standby task can restore
//     and checkpoint with it alone.
//   - ProcessorContext (processor_context.go) is what processors see:
//     topology.TaskContext (stores, sends, the current record, stream time,
//     deserialization errors), scheduling punctuators, counting dropped
//     records. It cannot commit or close the task.
//
// A StandbyTask (standby_task.go) keeps a copy of a task's stores on
// another node, or before the task moves, from their changelogs through a
// StateManager, processing nothing; under at-least-once never past the last
// commit's changelog positions (decision 0025).
//
// A Task is not safe for concurrent use: the task actor (package actors) is
// its only caller. partition imports topology and state.
package partition
