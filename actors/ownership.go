package actors

import (
	"errors"
	"time"

	"github.com/eddystreams/eddy/partition"
)

// ownership is one incarnation's ownership of its task: from the end of its
// start (fenced, its predecessor waited for, restored) until it stops. A
// node logs both ends, so that the owners of a task over time can be read
// from the logs of all nodes, and checked never to overlap:
//
//	msg="owning task" task=0_3 since=<RFC 3339, ns>
//	msg="stopped owning task" task=0_3 since=... until=... last_commit=... last_commit_sent=... last_write=... reason=...
//
// last_commit is when the last commit the broker accepted ended (under
// exactly-once nothing after it can be read by a read_committed reader);
// last_commit_sent when that commit began: the broker took it somewhere in
// between, so a process stopped (SIGSTOP) during the round trip stamps its
// end late, but never earlier than the commit began; last_write when the task last processed records or punctuated. Either is
// empty when it never happened. reason is revoked (committed and closed),
// lost (fenced), lease (the node's lease ran out), failed or stopped.
//
// The first commit of an ownership is logged at Debug (msg="first commit"
// task=.. after=<since to the commit's end>): with the start's phases (see
// startPhases) it tells where a failover or a move spends its time.
type ownership struct {
	since, lastCommit, lastCommitSent, lastWrite time.Time
	a                                            *taskActor
}

func (o *ownership) begin(a *taskActor, at time.Time) {
	*o = ownership{since: at, a: a}
	a.log.Info("owning task", "task", a.child.id.String(), "since", stamp(at), "incarnation", a.child.incarnations)
}

func (o *ownership) wrote() {
	if !o.since.IsZero() {
		o.lastWrite = time.Now()
	}
}

// committed records a commit the broker accepted, which began at sent.
func (o *ownership) committed(sent time.Time) {
	if o.since.IsZero() {
		return
	}
	first := o.lastCommit.IsZero()
	o.lastCommit, o.lastCommitSent = time.Now(), sent
	if first {
		o.a.log.Debug("first commit", "task", o.a.child.id.String(), "after", o.lastCommit.Sub(o.since))
	}
}

// end logs the end of the ownership, once.
func (o *ownership) end(a *taskActor, reason string) {
	if o.since.IsZero() {
		return
	}
	a.log.Info("stopped owning task", "task", a.child.id.String(), "since", stamp(o.since), "until", stamp(time.Now()),
		"last_commit", stamp(o.lastCommit), "last_commit_sent", stamp(o.lastCommitSent), "last_write", stamp(o.lastWrite), "reason", reason)
	*o = ownership{}
}

// endReason names why a failure ended an ownership.
func endReason(err error) string {
	switch {
	case errors.Is(err, partition.ErrFenced):
		return "lost"
	case errors.Is(err, ErrNodeLeaseExpired):
		return "lease"
	}
	return "failed"
}

// stamp formats t for the ownership log lines; "" for the zero time.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
