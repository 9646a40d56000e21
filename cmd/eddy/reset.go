package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/eddystreams/eddy/cluster"
	"github.com/eddystreams/eddy/internal/kafkaflags"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const resetUsage = `usage: eddy reset -brokers HOST:PORT[,...] -app-id ID -input TOPIC[,...] [flags]

Resets an application so that its next run processes its input again from
the start (or another position), as Kafka Streams' application reset tool:

  1. sets the committed offsets of the input topics in the consumer group
     named by the application id (-to-earliest by default);
  2. deletes the application's internal topics: changelogs and repartition
     topics (<app>-...-changelog, <app>-...-repartition, foreign-key join
     topics <app>-...-subscription-{registration,response}-topic) and the
     cluster's own (<app>-eddy-members, <app>-eddy-cluster), with the
     group's committed offsets of them;
  3. with -state-dir, deletes the local state (<state-dir>/<app-id>), as
     Kafka Streams' cleanUp. The state of nodes on other machines is
     deleted by running the command there too, or by removing the
     directory: a node whose changelog is gone would otherwise restore
     nothing and keep its old local state.

Output topics are left as they are. It refuses while a node of the
application runs: a member in the consumer group, a node whose record in
<app>-eddy-members was written within -heartbeat-timeout, or the lock of
<state-dir>/<app-id> held. Standalone nodes (WithStandalone) on other
machines leave no trace in Kafka and cannot be seen: stop them first.

flags:
`

type resetFlags struct {
	brokers, appID, stateDir, toDatetime string
	inputs                               listFlag
	toEarliest, toLatest, dryRun         bool
	toOffset                             int64
	heartbeat, timeout                   time.Duration
}

func resetCmd(args []string, stdout io.Writer) error {
	fs := newFlags("reset")
	var f resetFlags
	fs.StringVar(&f.brokers, "brokers", "", "Kafka bootstrap brokers, comma-separated (required)")
	fs.StringVar(&f.appID, "app-id", "", "the application id (WithApplicationID) (required)")
	fs.Var(&f.inputs, "input", "input topics, comma-separated or repeated (required)")
	fs.BoolVar(&f.toEarliest, "to-earliest", false, "reset the input offsets to the earliest (default)")
	fs.BoolVar(&f.toLatest, "to-latest", false, "reset the input offsets to the end: skip what is there")
	fs.StringVar(&f.toDatetime, "to-datetime", "", "reset to the first record at or after this time (RFC 3339, e.g. 2026-01-02T15:04:05Z)")
	fs.Int64Var(&f.toOffset, "to-offset", -1, "reset every input partition to this offset (kept within the partition's start and end)")
	fs.StringVar(&f.stateDir, "state-dir", "", "the state directory (WithStateDir) whose <app-id> directory to delete")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print what would be done, and do nothing")
	fs.DurationVar(&f.heartbeat, "heartbeat-timeout", 12*time.Second, "a node whose members record is younger than this counts as running (4 x its refresh interval)")
	fs.DurationVar(&f.timeout, "timeout", time.Minute, "bound of the whole command")
	sec := kafkaflags.Register(fs)
	if err := parseFlags(fs, resetUsage, args, stdout); err != nil {
		return err
	}
	if f.brokers == "" || f.appID == "" || len(f.inputs) == 0 || fs.NArg() > 0 {
		printUsage(fs, resetUsage, errOut)
		return errors.New("reset: -brokers, -app-id and -input are required, and nothing else")
	}
	if err := topology.ValidateApplicationID(f.appID); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	n := 0
	for _, b := range []bool{f.toEarliest, f.toLatest, f.toDatetime != "", f.toOffset >= 0} {
		if b {
			n++
		}
	}
	if n > 1 {
		return errors.New("reset: give at most one of -to-earliest, -to-latest, -to-datetime, -to-offset")
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout)
	defer cancel()
	opts, err := sec.ClientOptions(brokerList(f.brokers))
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return reset(ctx, kadm.NewClient(cl), opts, f, stdout)
}

func reset(ctx context.Context, adm *kadm.Client, opts []kgo.Opt, f resetFlags, out io.Writer) error {
	// The local lock first: it is held until the state is deleted, so
	// that no node starts on this machine meanwhile.
	var appDir string
	if f.stateDir != "" {
		appDir = filepath.Join(f.stateDir, f.appID)
		unlock, err := lockAppDir(appDir)
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		defer unlock()
	}
	if err := checkStopped(ctx, adm, opts, f); err != nil {
		return err
	}

	all, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("reset: list topics: %w", err)
	}
	for _, t := range f.inputs {
		if !all.Has(t) {
			return fmt.Errorf("reset: input topic %s does not exist", t)
		}
	}
	var internal []string
	for _, t := range all.Names() {
		if isInternalTopic(f.appID, t) {
			internal = append(internal, t)
		}
	}
	sort.Strings(internal)
	target, err := resetOffsets(ctx, adm, f)
	if err != nil {
		return err
	}
	committed, err := adm.FetchOffsets(ctx, f.appID)
	if err != nil {
		return fmt.Errorf("reset: committed offsets of group %s: %w", f.appID, err)
	}

	verb := func(s string) string {
		if f.dryRun {
			return "would " + s
		}
		return s
	}
	if f.dryRun {
		fmt.Fprintln(out, "dry run: nothing is changed")
	}
	fmt.Fprintf(out, "%s the committed offsets of group %s:\n", verb("set"), f.appID)
	for _, o := range target.Sorted() {
		was := "none"
		if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil && c.At >= 0 {
			was = fmt.Sprint(c.At)
		}
		fmt.Fprintf(out, "  %s[%d]: %s -> %d\n", o.Topic, o.Partition, was, o.At)
	}
	var internalCommitted kadm.TopicsSet = kadm.TopicsSet{}
	for _, t := range internal {
		committed.Each(func(r kadm.OffsetResponse) {
			if r.Topic == t && r.Err == nil {
				internalCommitted.Add(t, r.Partition)
			}
		})
	}
	if len(internal) == 0 {
		fmt.Fprintln(out, "no internal topics to delete")
	} else {
		fmt.Fprintf(out, "%s the internal topics:\n", verb("delete"))
		for _, t := range internal {
			fmt.Fprintf(out, "  %s\n", t)
		}
	}
	if appDir != "" {
		if _, err := os.Stat(appDir); err == nil {
			fmt.Fprintf(out, "%s the local state %s\n", verb("delete"), appDir)
		} else {
			fmt.Fprintf(out, "no local state at %s\n", appDir)
		}
	}
	if f.dryRun {
		return nil
	}

	resps, err := adm.CommitOffsets(ctx, f.appID, target)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return fmt.Errorf("reset: commit offsets to group %s: %w", f.appID, err)
	}
	if len(internalCommitted) > 0 {
		dresps, err := adm.DeleteOffsets(ctx, f.appID, internalCommitted)
		if err == nil {
			err = dresps.Error()
		}
		if err != nil {
			return fmt.Errorf("reset: delete group %s's offsets of internal topics: %w", f.appID, err)
		}
	}
	if len(internal) > 0 {
		dresps, err := adm.DeleteTopics(ctx, internal...)
		if err == nil {
			err = dresps.Error()
		}
		if err != nil {
			return fmt.Errorf("reset: delete internal topics: %w", err)
		}
	}
	if appDir != "" {
		if err := removeAppDir(appDir); err != nil {
			return fmt.Errorf("reset: delete local state: %w", err)
		}
	}
	fmt.Fprintf(out, "application %s reset\n", f.appID)
	return nil
}

// checkStopped refuses while a node of the application runs.
func checkStopped(ctx context.Context, adm *kadm.Client, opts []kgo.Opt, f resetFlags) error {
	groups, err := adm.DescribeGroups(ctx, f.appID)
	if err != nil {
		return fmt.Errorf("reset: describe group %s: %w", f.appID, err)
	}
	if g, ok := groups[f.appID]; ok && g.Err == nil && len(g.Members) > 0 {
		return fmt.Errorf("reset: group %s has %d active members (state %s): stop the application first", f.appID, len(g.Members), g.State)
	}
	live, err := cluster.LiveNodes(ctx, opts, f.appID, f.heartbeat)
	if err != nil {
		return fmt.Errorf("reset: read the cluster's members: %w", err)
	}
	if len(live) > 0 {
		var ids []string
		for id, at := range live {
			ids = append(ids, fmt.Sprintf("%s (heartbeat %v ago)", id, time.Since(at).Round(time.Second)))
		}
		sort.Strings(ids)
		return fmt.Errorf("reset: nodes of %s are running: %s; stop them first (a node that crashed counts as running for -heartbeat-timeout)", f.appID, strings.Join(ids, ", "))
	}
	return nil
}

// resetOffsets computes the new offset of every input partition.
func resetOffsets(ctx context.Context, adm *kadm.Client, f resetFlags) (kadm.Offsets, error) {
	starts, err := adm.ListStartOffsets(ctx, f.inputs...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("reset: start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, f.inputs...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("reset: end offsets: %w", err)
	}
	var after kadm.ListedOffsets
	if f.toDatetime != "" {
		t, err := time.Parse(time.RFC3339, f.toDatetime)
		if err != nil {
			return nil, fmt.Errorf("reset: -to-datetime: %w", err)
		}
		if after, err = adm.ListOffsetsAfterMilli(ctx, t.UnixMilli(), f.inputs...); err == nil {
			err = after.Error()
		}
		if err != nil {
			return nil, fmt.Errorf("reset: offsets at %s: %w", f.toDatetime, err)
		}
	}
	out := kadm.Offsets{}
	starts.Each(func(s kadm.ListedOffset) {
		e, _ := ends.Lookup(s.Topic, s.Partition)
		at := s.Offset
		switch {
		case f.toLatest:
			at = e.Offset
		case f.toDatetime != "":
			a, _ := after.Lookup(s.Topic, s.Partition)
			at = a.Offset
			if at < 0 { // no record at or after the time
				at = e.Offset
			}
		case f.toOffset >= 0:
			at = max(s.Offset, min(f.toOffset, e.Offset))
		}
		out.Add(kadm.Offset{Topic: s.Topic, Partition: s.Partition, At: at, LeaderEpoch: -1})
	})
	return out, nil
}

// isInternalTopic tells whether topic is one of application app's internal
// topics, by the names Eddy gives them (the suffixes are Kafka Streams').
func isInternalTopic(app, topic string) bool {
	if topic == cluster.MembersTopic(app) || topic == cluster.LogTopic(app) {
		return true
	}
	if !strings.HasPrefix(topic, app+"-") {
		return false
	}
	for _, s := range []string{"-changelog", "-repartition", "-subscription-registration-topic", "-subscription-response-topic"} {
		if strings.HasSuffix(topic, s) {
			return true
		}
	}
	return false
}

// lockAppDir takes the lock a running App holds on its state directory
// (<state dir>/<app id>/.lock); it fails when a node on this machine holds
// it. A directory that does not exist is not created.
func lockAppDir(dir string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("state dir %s is in use by a running node: stop it first", dir)
		}
		return nil, fmt.Errorf("lock state dir %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}

// removeAppDir deletes everything of dir but its lock file, which is held,
// then the lock file.
func removeAppDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.Name() == ".lock" {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return err
		}
	}
	return os.RemoveAll(dir)
}
