package eddy

import (
	_ "embed"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/topology"
)

// The node's status: GET /v1/status (JSON), GET / (the same as a page that
// polls it), and the orchestrators' probes GET /healthz and GET /readyz.

// Status is what GET /v1/status answers: this node, the cluster's members
// with their tasks in the applied assignment, and this node's tasks in
// detail.
type Status struct {
	Time    time.Time      `json:"time"`
	Node    StatusNode     `json:"node"`
	Healthy bool           `json:"healthy"`
	Ready   bool           `json:"ready"`
	Reason  string         `json:"reason,omitempty"` // why not ready
	Members []StatusMember `json:"members"`
	Tasks   []StatusTask   `json:"tasks"`
}

// StatusNode is the node answering.
type StatusNode struct {
	ID         string `json:"id"`
	AppID      string `json:"app_id"`
	Guarantee  string `json:"guarantee"`
	HTTPAddr   string `json:"http_addr,omitempty"`
	RemoteAddr string `json:"remote_addr,omitempty"`
	Cluster    bool   `json:"cluster"` // false: a standalone App
	Epoch      int64  `json:"epoch"`   // of the assignment it applied
}

// StatusMember is a live member of the cluster and its tasks by role.
type StatusMember struct {
	ID         string   `json:"id"`
	Self       bool     `json:"self"`
	HTTPAddr   string   `json:"http_addr,omitempty"`
	RemoteAddr string   `json:"remote_addr,omitempty"`
	GossipAddr string   `json:"gossip_addr,omitempty"`
	Active     []string `json:"active"`
	Standby    []string `json:"standby"`
	Warmup     []string `json:"warmup"`
}

// StatusTask is one task this node was given.
type StatusTask struct {
	ID    string `json:"id"`
	Role  string `json:"role"`  // active, standby, warmup
	State string `json:"state"` // starting, restoring, running, closing, lost, failed, not-run
	Error string `json:"error,omitempty"`
	// InputLag is the records on the broker past those fetched, over the
	// task's input partitions (active tasks; -1 unknown).
	InputLag int64 `json:"input_lag"`
	// ChangelogLag is the changelog records a standby or a restoring
	// store has yet to read (-1 unknown).
	ChangelogLag int64 `json:"changelog_lag"`
	// Buffered is the records fetched for an active task and not
	// processed yet.
	Buffered  int               `json:"records_buffered"`
	Processed int64             `json:"records_processed"`
	Commits   int64             `json:"commits"`
	Commit    StatusLatency     `json:"commit_latency"`
	Restore   []StatusRestoring `json:"restore,omitempty"`
}

// StatusLatency summarizes a latency histogram, in milliseconds.
type StatusLatency struct {
	Count int64   `json:"count"`
	AvgMs float64 `json:"avg_ms"`
	P99Ms float64 `json:"p99_ms"` // upper bound of the bucket holding the 99th percentile
	MaxMs float64 `json:"max_ms"`
}

// StatusRestoring is the last restoration of one store of a task:
// Restored of Total changelog offsets read (Total 0: nothing to restore).
type StatusRestoring struct {
	Store    string  `json:"store"`
	Restored int64   `json:"restored"`
	Total    int64   `json:"total"`
	Percent  float64 `json:"percent"`
	Done     bool    `json:"done"`
	Records  int64   `json:"records_restored"` // records written, over every restoration
}

//go:embed http_status.html
var statusPage []byte

// registerStatusRoutes adds the status routes to mux.
func (a *App) registerStatusRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, a.status())
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		// The page loads nothing from elsewhere and is framed by no one.
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; frame-ancestors 'none'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		_, _ = w.Write(statusPage)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if ok, reason := a.healthy(); !ok {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "failed", "reason": reason})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ok, reason := a.ready(); !ok {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": reason})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
}

// publicPath says which requests pass without the bearer token: the
// probes, which say only whether the node is well, and the status page's
// shell, which holds no data (its script asks /v1/status with the token).
func publicPath(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch r.URL.Path {
	case "/", "/healthz", "/readyz":
		return true
	}
	return false
}

// healthy: the App started, is not closed and did not fail.
func (a *App) healthy() (bool, string) {
	a.mu.Lock()
	started, closed, err := a.started, a.closed, a.failErr
	a.mu.Unlock()
	switch {
	case err != nil:
		return false, "failed: " + err.Error()
	case closed:
		return false, "closed"
	case !started:
		return false, "not started"
	}
	return true, ""
}

// ready: healthy, started (state RUNNING or REBALANCING), an assignment applied (in a cluster, one that counts
// this node in), and every task this node was given runs (or is in a role
// this node does not run).
func (a *App) ready() (bool, string) {
	if ok, reason := a.healthy(); !ok {
		return false, reason
	}
	a.mu.Lock()
	node, cn := a.node, a.cluster
	a.mu.Unlock()
	if node == nil {
		return false, "starting"
	}
	if cn != nil {
		if _, joined := cn.Applied().Nodes[cn.Self()]; !joined {
			return false, "joining the cluster"
		}
	}
	st := node.Status()
	if st.Epoch == 0 {
		return false, "waiting for an assignment"
	}
	restores := a.restores.byTask()
	var waiting []string
	for _, t := range st.Tasks {
		if t.State != actors.TaskRunning && t.State != actors.TaskNotRun {
			waiting = append(waiting, t.ID.String()+" "+t.Role.String()+" "+taskState(t, restores[t.ID]))
		}
	}
	if len(waiting) > 0 {
		slices.Sort(waiting)
		return false, fmt.Sprintf("%d of %d tasks not running: %v", len(waiting), len(st.Tasks), waiting)
	}
	if s := a.State(); s != Running && s != Rebalancing {
		return false, "state " + s.String()
	}
	return true, ""
}

// status gathers the node's status.
func (a *App) status() Status {
	a.mu.Lock()
	node, cn := a.node, a.cluster
	a.mu.Unlock()
	s := Status{Time: time.Now().UTC(), Members: []StatusMember{}, Tasks: []StatusTask{}}
	s.Node = StatusNode{ID: a.nodeName(), AppID: a.cfg.AppID, Guarantee: a.cfg.guarantee.String(),
		HTTPAddr: a.HTTPAddr(), RemoteAddr: a.RemoteAddr(), Cluster: cn != nil}
	s.Healthy, _ = a.healthy()
	var reason string
	s.Ready, reason = a.ready()
	if !s.Ready {
		s.Reason = reason
	}
	for _, n := range a.Nodes() {
		s.Members = append(s.Members, StatusMember{ID: n.ID, Self: n.Self, HTTPAddr: n.HTTPAddr,
			RemoteAddr: n.RemoteAddr, GossipAddr: n.GossipAddr,
			Active: taskNames(n.Active), Standby: taskNames(n.Standby), Warmup: taskNames(n.Warmup)})
	}
	if node == nil {
		return s
	}
	st := node.Status()
	s.Node.Epoch = st.Epoch
	if cn == nil {
		// A standalone App lists the tasks it was given, not only those
		// running already.
		for i := range s.Members {
			if s.Members[i].Self {
				var ids []topology.TaskID
				for _, t := range st.Tasks {
					ids = append(ids, t.ID)
				}
				sortTasks(ids)
				s.Members[i].Active = taskNames(ids)
			}
		}
	}
	metrics := node.TaskMetrics()
	restores := a.restores.byTask()
	slices.SortFunc(st.Tasks, func(x, y actors.TaskStatus) int { return topology.CompareTaskIDs(x.ID, y.ID) })
	for _, t := range st.Tasks {
		m := metrics[t.ID]
		row := StatusTask{ID: t.ID.String(), Role: t.Role.String(), State: taskState(t, restores[t.ID]), Error: t.Err,
			InputLag: t.InputLag, ChangelogLag: t.ChangelogLag, Buffered: t.Buffered, Processed: m.Processed, Commits: m.Commits,
			Commit: latencySummary(m.CommitLatency)}
		if t.Role == actors.RoleActive {
			row.Restore = restores[t.ID]
			if len(row.Restore) > 0 {
				var left int64
				for _, r := range row.Restore {
					left += r.Total - r.Restored
				}
				row.ChangelogLag = left
			}
		}
		s.Tasks = append(s.Tasks, row)
	}
	return s
}

// taskState names t's state; a starting active task with a restoration
// under way is restoring.
func taskState(t actors.TaskStatus, rs []StatusRestoring) string {
	if t.State == actors.TaskStarting && t.Role == actors.RoleActive && t.Err == "" {
		for _, r := range rs {
			if !r.Done {
				return actors.TaskRestoring.String()
			}
		}
	}
	return t.State.String()
}

// byTask is the restore progress of every store, by task, stores in order.
func (r *restoreTracker) byTask() map[topology.TaskID][]StatusRestoring {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[topology.TaskID][]StatusRestoring{}
	for k, p := range r.by {
		total := max(p.end-p.from, 0)
		done := min(max(p.next-p.from, 0), total)
		pct := 100.0
		if total > 0 {
			pct = float64(done) * 100 / float64(total)
		}
		out[k.task] = append(out[k.task], StatusRestoring{Store: k.store, Restored: done, Total: total,
			Percent: pct, Done: done == total, Records: p.restored})
	}
	for _, rs := range out {
		slices.SortFunc(rs, func(x, y StatusRestoring) int {
			if x.Store < y.Store {
				return -1
			}
			if x.Store > y.Store {
				return 1
			}
			return 0
		})
	}
	return out
}

func latencySummary(l partition.LatencySnapshot) StatusLatency {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	s := StatusLatency{Count: l.Count, MaxMs: ms(l.Max)}
	if l.Count == 0 {
		return s
	}
	s.AvgMs = ms(l.Sum / time.Duration(l.Count))
	want := (l.Count*99 + 99) / 100 // the 99th percentile's rank, rounded up
	var cum int64
	for i, n := range l.Buckets {
		cum += n
		if cum >= want {
			if i < len(partition.LatencyBounds) {
				s.P99Ms = ms(partition.LatencyBounds[i])
			} else {
				s.P99Ms = s.MaxMs
			}
			break
		}
	}
	s.P99Ms = min(s.P99Ms, s.MaxMs) // a bucket's bound may exceed every observation
	return s
}

func sortTasks(ids []topology.TaskID) { slices.SortFunc(ids, topology.CompareTaskIDs) }

func taskNames(ids []topology.TaskID) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, id.String())
	}
	return out
}
