package streamtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/eddystreams/eddy/partition"
	"github.com/eddystreams/eddy/state"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrClosed is returned by a Driver's methods after Close.
var ErrClosed = errors.New("streamtest: driver is closed")

// ErrTaskFailed is returned, wrapping the task's error, by the calls that
// would process or commit after a task failed: as in the application, a
// failed task stops everything until a restart. Restart closes the failed
// task without committing it, so the record that failed is processed again.
var ErrTaskFailed = errors.New("streamtest: a task failed earlier; Restart to run it again")

// Driver runs a topology's tasks against in-memory topics. Make one with New
// and Close it when done.
type Driver struct {
	cfg    cfg
	topo   *topology.Topology
	layout *layout
	broker *broker
	dir    string // state directory
	ownDir bool   // made by New, removed by Close

	mu        sync.Mutex
	tasks     []*partition.Task // by sub-topology, then partition
	byInput   map[state.TopicPartition]*partition.Task
	pending   []*kgo.Record // records of task inputs not yet handed to their task
	seen      int           // records of the broker's arrivals looked at
	committed map[state.TopicPartition]int64
	metadata  map[state.TopicPartition]string // commit metadata beside each offset
	nullKeys  map[string]uint32               // round-robin counters for keyless input
	now       time.Time
	closed    bool
	global    *partition.GlobalTask // the global tables' stores, nil without
	failed    *partition.Task       // the task whose processing failed, if any
	failure   error                 // its error
	broken    error                 // set when a Restart could not make the new tasks
	retired   partition.TaskMetrics // counters of the tasks closed by Restart
}

// New makes a driver for topo and starts its tasks, one per sub-topology and
// partition, with their stores open. It fails on invalid options and when a
// task cannot start (a RocksDB store that cannot open, say).
func New(topo *topology.Topology, opts ...Option) (*Driver, error) {
	if topo == nil {
		return nil, errors.New("streamtest.New: nil topology")
	}
	c := defaultCfg()
	c.Test = &c // for the driver's own options (testOpt)
	for _, o := range opts {
		if o != nil {
			o.Apply(&c.Settings)
		}
	}
	c.Test = nil
	c.cache.max = c.CacheMaxBytes
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("streamtest.New: %w", err)
	}
	if err := topo.ValidateTopicNames(c.AppID); err != nil {
		return nil, fmt.Errorf("streamtest.New: %w", err)
	}
	l, err := newLayout(topo, &c)
	if err != nil {
		return nil, fmt.Errorf("streamtest.New: %w", err)
	}
	d := &Driver{
		cfg:       c,
		topo:      topo,
		layout:    l,
		broker:    newBroker(l.partitions),
		dir:       c.StateDir,
		byInput:   map[state.TopicPartition]*partition.Task{},
		committed: map[state.TopicPartition]int64{},
		metadata:  map[state.TopicPartition]string{},
		nullKeys:  map[string]uint32{},
		now:       c.startTime,
	}
	if d.dir == "" {
		dir, err := os.MkdirTemp("", "streamtest-")
		if err != nil {
			return nil, fmt.Errorf("streamtest.New: state dir: %w", err)
		}
		d.dir, d.ownDir = dir, true
	}
	if err := d.startTasks(); err != nil {
		if d.ownDir {
			os.RemoveAll(d.dir)
		}
		return nil, fmt.Errorf("streamtest.New: %w", err)
	}
	return d, nil
}

// startTasks makes and initializes every task. Each reads its inputs from
// the committed offsets on. On failure the tasks made so far are closed.
// d.mu must be held (or d not yet shared).
func (d *Driver) startTasks() error {
	ctx := context.Background()
	if err := d.startGlobal(ctx); err != nil {
		return err
	}
	for _, id := range d.layout.taskIDs() {
		var producer partition.Producer = d.broker
		var txn partition.Transactional
		if d.cfg.ExactlyOnce {
			p := newTxnProducer(d, d.cfg.AppID+"-"+id.String()) // txn.go
			producer, txn = p, p
		}
		t, err := partition.NewTask(partition.Config{
			ExactlyOnce:            d.cfg.ExactlyOnce,
			Txn:                    txn,
			ApplicationID:          d.cfg.AppID,
			ID:                     id,
			Subtopology:            d.topo.Subtopologies[id.Subtopology],
			Inputs:                 d.layout.taskInputs(id),
			Dir:                    filepath.Join(d.appDir(), id.String()),
			DefaultEngine:          d.cfg.Engine,
			Producer:               producer,
			Partitions:             func(topic string) (int32, error) { return d.layout.partitions(topic), nil },
			Changelogs:             d.broker,
			OnDeserializationError: d.cfg.OnDeserialize,
			OnProcessingError:      d.cfg.OnProcessing,
			OnProductionError:      d.cfg.OnProduction,
			GlobalStores:           d.globalStores(),
			RecordCache:            d.cfg.cache.get(), // cache.go
			Logger:                 d.cfg.Logger,
			Clock:                  d.clock, // punctuation.go
			IdleStreamTimeAdvance:  d.cfg.IdleAdvance,
			OnDroppedRecord:        d.cfg.OnDropped,
		})
		if err == nil {
			d.tasks = append(d.tasks, t)
			for _, tp := range t.Inputs() {
				d.byInput[tp] = t
			}
			var cp partition.CommitPoint
			if cp, err = d.commitPoint(t.Inputs()); err == nil {
				err = t.Initialize(ctx, cp)
			}
		}
		if err != nil {
			return errors.Join(fmt.Errorf("start task %s: %w", id, err), d.closeTasks(false))
		}
	}
	// The new tasks read from the committed offsets on: whatever was not
	// committed is processed again, in the order it was written.
	d.pending = d.pending[:0]
	all := d.broker.arrivedSince(0)
	for _, r := range d.broker.stable(all) {
		tp := state.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		if d.byInput[tp] != nil && r.Offset >= d.committed[tp] {
			d.pending = append(d.pending, r)
		}
	}
	d.seen = len(all)
	return nil
}

// closeTasks closes every task and forgets them.
func (d *Driver) closeTasks(clean bool) error {
	var errs []error
	for _, t := range d.tasks {
		// A failed task never closes cleanly: its last records are not
		// committed.
		if err := t.Close(clean && t != d.failed); err != nil {
			errs = append(errs, fmt.Errorf("close task %s: %w", t.ID(), err))
		}
		d.retired.Add(t.Metrics())
	}
	d.tasks = nil
	clear(d.byInput)
	if d.global != nil {
		if err := d.global.Close(clean); err != nil {
			errs = append(errs, fmt.Errorf("close global task: %w", err))
		}
		d.global = nil
	}
	d.failed, d.failure = nil, nil
	return errors.Join(errs...)
}

func (d *Driver) appDir() string { return filepath.Join(d.dir, d.cfg.AppID) }

// usable reports why the driver cannot be used, if it cannot. d.mu must be
// held.
func (d *Driver) usable() error {
	if d.closed {
		return ErrClosed
	}
	if d.broken != nil {
		return fmt.Errorf("streamtest: driver unusable after a failed restart: %w", d.broken)
	}
	return nil
}

// running is usable, and also reports a failed task. d.mu must be held.
func (d *Driver) running() error {
	if err := d.usable(); err != nil {
		return err
	}
	if d.failure != nil {
		return fmt.Errorf("%w: %w", ErrTaskFailed, d.failure)
	}
	return nil
}

// PipeInput appends a serialized record to an input topic and processes it
// completely before returning: the task reading its partition runs it
// through the topology, and every record a task sends to a topic a task
// reads (a repartition topic) is processed in turn, until nothing is left.
// Records are processed one at a time in the order they were written,
// across topics and partitions, as in Kafka Streams' TopologyTestDriver.
// The partition is the one Kafka's default partitioner picks: murmur2 of the
// key, or round-robin for a nil key.
//
// A processing error (for instance an undecodable record with the default
// fail handler) is returned; it names the task, topic, partition and offset.
// The task has failed then, as it would in the application: see
// ErrTaskFailed.
func (d *Driver) PipeInput(topic string, key, value []byte, ts int64, headers ...topology.Header) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.running(); err != nil {
		return err
	}
	if !d.layout.inputs[topic] {
		return fmt.Errorf("streamtest: topic %q is not an input of the topology (inputs: %s)", topic, strings.Join(d.layout.inputNames(), ", "))
	}
	n := d.layout.partitions(topic)
	var p int32
	if key == nil {
		p = int32(d.nullKeys[topic] % uint32(n))
		d.nullKeys[topic]++
	} else {
		p = partition.KeyPartition(key, n)
	}
	var hs []kgo.RecordHeader
	for _, h := range headers {
		hs = append(hs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	if _, err := d.broker.append(topic, p, key, value, time.UnixMilli(ts), hs); err != nil {
		return fmt.Errorf("streamtest: %w", err)
	}
	return d.pump()
}

// pump processes the records of task inputs one at a time, in the order
// they were written (piped, or sent by a task to a topic a task reads),
// until none is left. d.mu must be held.
func (d *Driver) pump() error {
	for {
		for _, r := range d.broker.arrivedSince(d.seen) {
			vis := d.broker.visibilityOf(r)
			if vis == txnOpen {
				break // read_committed: nothing past an open transaction
			}
			d.seen++
			if vis == txnAborted {
				continue
			}
			if d.byInput[state.TopicPartition{Topic: r.Topic, Partition: r.Partition}] != nil {
				d.pending = append(d.pending, r)
			} else if d.layout.globals[r.Topic] {
				// A global table applies its records as they arrive.
				if err := d.global.Apply([]*kgo.Record{r}); err != nil {
					return err
				}
			}
		}
		if len(d.pending) == 0 {
			return nil
		}
		r := d.pending[0]
		d.pending[0] = nil
		d.pending = d.pending[1:]
		tp := state.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		t := d.byInput[tp]
		if !t.AddRecords(tp, []*kgo.Record{r}) {
			return fmt.Errorf("streamtest: task %s refused a record of its input %s", t.ID(), tp)
		}
		if _, err := t.Process(math.MaxInt); err != nil {
			d.failed, d.failure = t, err
			return err
		}
	}
}

// Commit commits every task as the application does on its commit
// interval: it waits for everything sent (immediate here), records the
// consumed input offsets as committed, and writes the tasks' checkpoints
// (forced, as on a clean close).
func (d *Driver) Commit() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.running(); err != nil {
		return err
	}
	return d.commit()
}

func (d *Driver) commit() error {
	if !d.cfg.ExactlyOnce {
		return d.commitTasks()
	}
	// Under exactly-once a task's records become visible downstream only
	// when it commits: commit and process what that made visible until a
	// commit makes nothing new visible.
	for {
		seen := d.seen
		if err := d.commitTasks(); err != nil {
			return err
		}
		if err := d.pump(); err != nil {
			return err
		}
		if d.seen == seen {
			return nil
		}
	}
}

func (d *Driver) commitTasks() error {
	ctx := context.Background()
	var errs []error
	for _, t := range d.tasks {
		if t == d.failed {
			continue
		}
		if err := t.Commit(ctx, offsetBook{d}); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("streamtest: commit: %w", err)
	}
	return nil
}

// offsetBook is the driver's partition.OffsetCommitter: committing offsets
// records them (there is no consumer group). Tasks call it with d.mu held.
type offsetBook struct{ d *Driver }

func (b offsetBook) CommitOffsets(_ context.Context, offsets map[state.TopicPartition]int64, metadata map[state.TopicPartition]string) error {
	if b.d.cfg.ExactlyOnce {
		// Offsets committed beside the transaction would be committed
		// whether or not the records they stand for are.
		return fmt.Errorf("streamtest: offsets committed outside the transaction under exactly-once")
	}
	if err := checkMetadata(metadata); err != nil {
		return err
	}
	for tp, o := range offsets {
		b.d.committed[tp] = o
		b.d.metadata[tp] = metadata[tp]
	}
	return nil
}

// checkMetadata refuses commit metadata Kafka would refuse.
func checkMetadata(metadata map[state.TopicPartition]string) error {
	for tp, m := range metadata {
		if len(m) > partition.MaxCommitMetadataBytes {
			return fmt.Errorf("commit %s: metadata of %d bytes, Kafka takes at most %d by default", tp, len(m), partition.MaxCommitMetadataBytes)
		}
	}
	return nil
}

// commitPoint is what a restarting task learns of its last commit.
func (d *Driver) commitPoint(inputs []state.TopicPartition) (partition.CommitPoint, error) {
	committed := map[state.TopicPartition]partition.CommittedOffset{}
	for _, tp := range inputs {
		if o, ok := d.committed[tp]; ok {
			committed[tp] = partition.CommittedOffset{Offset: o, Metadata: d.metadata[tp]}
		}
	}
	return partition.NewCommitPoint(committed)
}

// Committed returns the committed offset (the next offset to read) of an
// input partition, full topic name, and whether one was committed.
func (d *Driver) Committed(topic string, partition int32) (int64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o, ok := d.committed[state.TopicPartition{Topic: topic, Partition: partition}]
	return o, ok
}

// Restart stops every task and makes new ones, as a restart of the
// application does: the new tasks open the same state directory, restore
// their stores from the changelog topics (from their checkpoints when there
// are some) and read their inputs from the committed offsets on, processing
// whatever was not committed before Restart returns.
//
// By default the stop is clean: commit, checkpoint, close (except for a
// failed task, which is closed without a commit). Unclean stops as a crash
// does and WipeState starts the new tasks without local state. A processing
// error of the new tasks is returned as by PipeInput. After Restart fails
// otherwise, only Close may be called.
func (d *Driver) Restart(opts ...RestartOption) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.usable(); err != nil {
		return err
	}
	var rc restartCfg
	for _, o := range opts {
		o.applyRestart(&rc)
	}
	clean := !rc.unclean
	var errs []error
	if clean {
		if err := d.commit(); err != nil {
			errs = append(errs, err)
			clean = false // no checkpoint for uncommitted work
		}
	}
	if err := d.closeTasks(clean); err != nil {
		errs = append(errs, err)
	}
	if rc.wipe {
		if err := state.WipeDir(d.appDir()); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		d.broken = err
		return fmt.Errorf("streamtest: restart: %w", err)
	}
	if err := d.startTasks(); err != nil {
		d.broken = err
		return fmt.Errorf("streamtest: restart: %w", err)
	}
	return d.pump()
}

// Close commits and closes every task cleanly (a failed task without a
// commit), then removes the state directory if New made it. Closing twice is
// not an error.
func (d *Driver) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	clean := true
	if d.broken == nil {
		if err := d.commit(); err != nil {
			errs = append(errs, err)
			clean = false
		}
	}
	errs = append(errs, d.closeTasks(clean))
	if d.ownDir {
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("remove state dir: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("streamtest: close: %w", err)
	}
	return nil
}

// WallClock is the driver's wall-clock time. It moves only with
// AdvanceWallClock.
func (d *Driver) WallClock() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.now
}

// AdvanceWallClock moves the wall clock forward by step, then runs the
// wall-clock punctuators that are due (task by task) and processes what they
// sent to topics the tasks read. A punctuator fires at most once per call,
// however many intervals step spans (as in Kafka Streams): advance in
// smaller steps to see every interval. TestInputTopic.Pipe stamps records
// with the wall clock. A punctuator's error is returned, and the task has
// failed then (see ErrTaskFailed).
func (d *Driver) AdvanceWallClock(step time.Duration) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.running(); err != nil {
		return err
	}
	if step < 0 {
		return fmt.Errorf("streamtest: AdvanceWallClock(%v): the wall clock cannot go back", step)
	}
	d.now = d.now.Add(step)
	return d.punctuateWallClock()
}

// TaskIDs lists the driver's tasks, by sub-topology and then partition.
func (d *Driver) TaskIDs() []topology.TaskID { return d.layout.taskIDs() }

// Partitions is the partition count of a topic (full name) in the driver.
func (d *Driver) Partitions(topic string) int32 { return d.layout.partitions(topic) }

// ProducedTopics lists, sorted, the topics the tasks have sent records to:
// outputs, repartition and changelog topics, dead-letter topics.
func (d *Driver) ProducedTopics() []string { return d.broker.producedTopics() }

// StateDir is the directory holding the tasks' state, in
// StateDir()/<application id>/<task>.
func (d *Driver) StateDir() string { return d.dir }
