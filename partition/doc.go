// Package partition is the task: one sub-topology running on one partition
// number. It keeps a record queue per input partition and processes the head
// record with the lowest timestamp next, tracks stream time, owns the task's
// stores (opening, changelogging, restoring, checkpointing), and collects
// what the task sends (outputs, repartition and changelog records) through a
// RecordCollector.
//
// A Task is not safe for concurrent use: the task actor (package actors) is
// its only caller. partition imports topology and state.
package partition
