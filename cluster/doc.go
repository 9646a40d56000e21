// Package cluster will hold membership (memberlist gossip), the coordinator
// and epoch-numbered, sticky, standby-aware assignments, and the handover of
// tasks between nodes by changelog replay. Built so far: the assignor
// (Compute, a pure function from the previous assignment, the members and
// their lags to the next assignment; decision 0021). Until the coordinator
// exists a node assigns itself every task (see actors.Assign and
// actors.Node.Apply, which the coordinator will drive).
//
// cluster imports the message types of package actors, not task internals;
// the assignor needs only topology.TaskID.
package cluster
