// Package cluster will hold membership (memberlist gossip), the coordinator
// and epoch-numbered, sticky, standby-aware assignments, and the handover of
// tasks between nodes by changelog replay. Built so far: the assignor
// (Compute, a pure function from the previous assignment, the members and
// their lags to the next assignment; decision 0021); the decision log
// (log*.go: a compacted topic of one partition written only by the
// coordinator in transactions, tailed by every node's LogReader in epoch
// order), the Coordinator (election of the oldest alive member, triggers,
// majority rule, fencing, detection of a second cluster) and the Lease a
// node's tasks check (decision 0024). Until these are wired into a node, a
// node assigns itself every task (see actors.Assign and actors.Node.Apply).
//
// cluster imports the message types of package actors, not task internals;
// the assignor needs only topology.TaskID.
package cluster
