package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/eddystreams/eddy/cluster"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
)

// placements keeps the newest decision read from the cluster's decision
// log and wakes those waiting for a change.
type placements struct {
	mu      sync.Mutex
	d       cluster.Decision
	has     bool
	changed chan struct{} // closed and replaced on every new decision
}

func (p *placements) init() { p.changed = make(chan struct{}) }

// set is the decision log reader's OnDecision: decisions come in
// increasing epochs.
func (p *placements) set(d cluster.Decision, _ bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.d, p.has = d, true
	close(p.changed)
	p.changed = make(chan struct{})
}

func (p *placements) latest() (cluster.Decision, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.d, p.has
}

func (p *placements) current() (cluster.Decision, bool, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.d, p.has, p.changed
}

// waiter waits for the demo's conditions, each within timeout, and fails
// early when a node dies unasked.
type waiter struct {
	seen    *placements
	nodes   *nodes
	tasks   []topology.TaskID
	timeout time.Duration
	out     io.Writer
}

// step waits until the newest decision satisfies cond, then prints it under
// title.
func (w waiter) step(ctx context.Context, title string, cond func(cluster.Decision) bool) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	for {
		d, ok, changed := w.seen.current()
		if ok && cond(d) {
			printPlacement(w.out, title, d, w.nodes.label)
			return nil
		}
		select {
		case <-changed:
		case nd := <-w.nodes.failed:
			return fmt.Errorf("waiting until %s: %s", title, nd.describeExit())
		case <-ctx.Done():
			if ok {
				var sb strings.Builder
				printPlacement(&sb, "last decision", d, w.nodes.label)
				return fmt.Errorf("not seen within %v that %s: %w\n%s", w.timeout, title, ctx.Err(), sb.String())
			}
			return fmt.Errorf("not seen within %v that %s: no decision in the log: %w", w.timeout, title, ctx.Err())
		}
	}
}

// runsEverything: the decision's members are exactly the live nodes and
// every task is active on one of them.
func (w waiter) runsEverything(d cluster.Decision) bool {
	live := w.nodes.live()
	if len(d.Nodes) != len(live) {
		return false
	}
	for _, nd := range live {
		if _, ok := d.Nodes[nd.id]; !ok {
			return false
		}
	}
	for _, t := range w.tasks {
		if _, ok := d.Owner(t); !ok {
			return false
		}
	}
	return true
}

// eachActive: every member of the decision has an active task.
func (w waiter) eachActive(d cluster.Decision) bool {
	for _, na := range d.Nodes {
		if len(na.Active) == 0 {
			return false
		}
	}
	return true
}

// processed waits until every record now in the word count's topics is
// processed and committed: for each sub-topology in order (writers of the
// repartition topic before its reader), until the application's committed
// offsets reach the ends its source topics have when that sub-topology's
// turn comes.
func (w waiter) processed(ctx context.Context, adm *kadm.Client, topo *topology.Topology, app string) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for _, st := range topo.Subtopologies {
		var topics []string
		for _, s := range st.Sources {
			topics = append(topics, s.FullName(app))
		}
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err == nil {
			err = ends.Error()
		}
		if err != nil {
			return fmt.Errorf("end offsets of %s: %w", strings.Join(topics, ", "), err)
		}
		var behind string
		for {
			behind, err = lagging(ctx, adm, app, ends)
			if err == nil && behind == "" {
				break
			}
			select {
			case <-tick.C:
			case nd := <-w.nodes.failed:
				return fmt.Errorf("waiting for processing: %s", nd.describeExit())
			case <-ctx.Done():
				if err != nil {
					behind = err.Error()
				}
				return fmt.Errorf("records not processed and committed within %v: %s: %w", w.timeout, behind, ctx.Err())
			}
		}
	}
	return nil
}

// lagging says which partition of ends group has not committed up to the
// end, "" when none.
func lagging(ctx context.Context, adm *kadm.Client, group string, ends kadm.ListedOffsets) (string, error) {
	committed, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = committed.Error()
	}
	if err != nil {
		return "", fmt.Errorf("committed offsets of %s: %w", group, err)
	}
	var behind []string
	ends.Each(func(end kadm.ListedOffset) {
		if end.Offset == 0 {
			return
		}
		at := int64(0)
		if c, ok := committed.Lookup(end.Topic, end.Partition); ok {
			at = c.At
		}
		if at < end.Offset {
			behind = append(behind, fmt.Sprintf("%s-%d at %d of %d", end.Topic, end.Partition, at, end.Offset))
		}
	})
	sort.Strings(behind)
	if len(behind) == 0 {
		return "", nil
	}
	return "committed " + strings.Join(behind, ", "), nil
}

// printPlacement prints where the tasks of d run: a line per node, in the
// order of their labels, with its node id and its active tasks, then its standbys and
// warm-ups if any.
func printPlacement(w io.Writer, title string, d cluster.Decision, label func(cluster.NodeID) string) {
	fmt.Fprintf(w, "-- %s (epoch %d, coordinator %s)\n", title, d.Epoch, label(d.Coordinator))
	type row struct {
		label, id, active, rest string
	}
	var rows []row
	width := 0
	for id, na := range d.Nodes {
		r := row{label: label(id), id: string(id), active: taskList(na.Active)}
		if len(na.Standby) > 0 {
			r.rest += "  standby " + taskList(na.Standby)
		}
		if len(na.Warmup) > 0 {
			r.rest += "  warmup " + taskList(na.Warmup)
		}
		width = max(width, len(r.active))
		rows = append(rows, r)
	}
	// Nodes of the demo by label; ids of no process here ("?<id>") last.
	sort.Slice(rows, func(i, j int) bool {
		if ui, uj := strings.HasPrefix(rows[i].label, "?"), strings.HasPrefix(rows[j].label, "?"); ui != uj {
			return uj
		}
		return rows[i].label < rows[j].label
	})
	for _, r := range rows {
		if r.rest == "" {
			fmt.Fprintf(w, "   %-7s %s  active %s\n", r.label, r.id, r.active)
			continue
		}
		fmt.Fprintf(w, "   %-7s %s  active %-*s%s\n", r.label, r.id, width, r.active, r.rest)
	}
}

func taskList(ts []topology.TaskID) string {
	if len(ts) == 0 {
		return "-"
	}
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, " ")
}
