// Package cluster holds what makes several processes of one application a
// cluster: membership by gossip, the coordinator that places tasks, and the
// decision log it writes. Built so far, each tested on its own:
//
//   - Membership (membership*.go; decision 0023): memberlist with the tuned
//     timings, a key and the application id as label; versioned node
//     metadata of at most 512 bytes; a node id kept in the state directory;
//     joining without seeds through the compacted <app>-eddy-members topic
//     (discovery.go); LinkCutter (transport_cutter.go) cuts and heals links
//     between nodes in tests.
//
//   - The assignor (Compute; decision 0021): a pure function from the
//     previous assignment, the members and their lags to the next
//     assignment: sticky, balanced by capacity, warm-ups before moves,
//     standbys on other nodes and racks.
//
//   - The decision log (log*.go: a compacted topic of one partition
//     written only by the coordinator in transactions, tailed by every
//     node's LogReader in epoch order), the Coordinator (election of the
//     oldest alive member, triggers, majority rule, fencing, detection of a
//     second cluster; it sees membership through MembershipView) and the
//     Lease a node's tasks check (decision 0024).
//
//   - The Node (node.go; decision 0026) puts them together on one
//     process: it applies each decision to the process's actors.Node,
//     hands tasks over (a task moved in waits for its previous owner's
//     release, read from the log, or for that owner to be gone), sends
//     lags and releases to the coordinator over the gossip's TCP channel
//     (messages.go), and gives the task actors the lease. eddy.App makes
//     one unless WithStandalone.
//
// Not yet: remote queries.
//
// cluster imports the message types of package actors, not task internals;
// the assignor needs only topology.TaskID.
package cluster
