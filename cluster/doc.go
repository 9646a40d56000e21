// Package cluster will hold membership (memberlist gossip), the coordinator
// and epoch-numbered, sticky, standby-aware assignments, and the handover of
// tasks between nodes by changelog replay. It is not built yet: a node
// assigns itself every task (see actors.Assign and actors.Node.Apply,
// which the coordinator will drive).
//
// cluster imports the message types of package actors, not task internals.
package cluster
