package main

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// outputSpan completes a throughput measurement from the output topic,
// whose records the broker stamps with their append time
// (message.timestamp.type=LogAppendTime): it waits until the output stops
// growing, then reads when the first and the last output records were
// appended. Under exactly-once it takes the commit markers instead (the
// moment the outputs became visible to a read_committed reader).
//
// started is when the driver started the program (pid); brokerCPU0 the
// broker's CPU time then. The broker's CPU (and the program's) is read again
// at the poll that first saw the output's final size, so the settling wait
// is not counted.
//
// For an end-to-end workload (workloadDef.endToEnd) it also replaces the
// source's records/s with the steady figure, and the CPU per record with the
// program's CPU from its start to the last output.
func (r *runner) outputSpan(m *measurement, wl workloadDef, output string, started time.Time, brokerCPU0 float64, pid int) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.c.timeout)
	defer cancel()
	// A commit flushes what a record cache held back: once the output has
	// not grown for a commit interval and a second, it is complete.
	settle := time.Second
	if !wl.eos() {
		settle += r.c.commit
	}
	var (
		size      int64 = -1
		ends      map[int32]int64
		changed   time.Time
		brokerCPU float64
		progCPU   float64
	)
	for {
		sum, per, err := r.b.endOffsets(ctx, output)
		if err != nil {
			return fmt.Errorf("output end offsets: %w", err)
		}
		now := time.Now()
		if sum != size {
			size, ends, changed, brokerCPU = sum, per, now, r.b.cpu()
			progCPU, _ = cpuSeconds(pid)
		}
		if size > 0 && now.Sub(changed) >= settle {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the output to settle: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	first, last, err := r.appendTimes(ctx, output, ends, wl.eos())
	if err != nil {
		return err
	}
	n := float64(r.inputN(wl))
	m.lastOut = last
	m.startup = first.Sub(started).Seconds()
	if d := last.Sub(first).Seconds(); d > 0 {
		m.steady = n / d
	}
	if d := last.Sub(started).Seconds(); d > 0 {
		m.whole = n / d
	}
	m.brokerCPUPerM = (brokerCPU - brokerCPU0) / n * 1e6
	if wl.endToEnd {
		m.intake = m.rps
		m.rps, m.seconds = m.steady, last.Sub(first).Seconds()
		m.cpuPerM = progCPU / n * 1e6
		if m.rps == 0 {
			return fmt.Errorf("first and last output in the same millisecond; use a larger input")
		}
	}
	return nil
}

// appendTimes reads the earliest first and the latest last output record
// of topic over its partitions (ends: their end offsets). With markers, the
// "records" are the transactions' commit markers.
func (r *runner) appendTimes(ctx context.Context, topic string, ends map[int32]int64, markers bool) (first, last time.Time, err error) {
	starts := map[int32]kgo.Offset{}
	tails := map[int32]kgo.Offset{}
	for p, end := range ends {
		if end > 0 {
			starts[p] = kgo.NewOffset().At(0)
			tails[p] = kgo.NewOffset().At(end - 1)
		}
	}
	// The first: from the start of each partition to its first data record
	// (or commit marker).
	err = r.scanPartitions(ctx, topic, starts, func(p int32, rec *kgo.Record) bool {
		if markers != rec.Attrs.IsControl() || (markers && !isCommitMarker(rec)) {
			return false
		}
		if first.IsZero() || rec.Timestamp.Before(first) {
			first = rec.Timestamp
		}
		return true
	})
	if err != nil {
		return first, last, fmt.Errorf("first output of %s: %w", topic, err)
	}
	// The last: the record at end-1 of each partition (under exactly-once,
	// the marker of its last transaction).
	err = r.scanPartitions(ctx, topic, tails, func(p int32, rec *kgo.Record) bool {
		if rec.Timestamp.After(last) {
			last = rec.Timestamp
		}
		return true
	})
	if err != nil {
		return first, last, fmt.Errorf("last output of %s: %w", topic, err)
	}
	return first, last, nil
}

// scanPartitions reads partitions of topic from the given offsets (read
// uncommitted, control records kept) until take has returned true once for
// each.
func (r *runner) scanPartitions(ctx context.Context, topic string, from map[int32]kgo.Offset, take func(int32, *kgo.Record) bool) error {
	if len(from) == 0 {
		return fmt.Errorf("no records")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.b.Addr), fastMetadata, kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))
	if err != nil {
		return err
	}
	defer cl.Close()
	left := map[int32]bool{}
	for p := range from {
		left[p] = true
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return fmt.Errorf("%d partitions not read: %w", len(left), ctx.Err())
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		fs.EachRecord(func(rec *kgo.Record) {
			if left[rec.Partition] && take(rec.Partition, rec) {
				delete(left, rec.Partition)
			}
		})
	}
	return nil
}

// isCommitMarker tells a transaction's commit marker from its abort marker:
// a control record's key is a version (int16) and a type (int16, 1 for
// commit).
func isCommitMarker(rec *kgo.Record) bool {
	return len(rec.Key) >= 4 && rec.Key[2] == 0 && rec.Key[3] == 1
}
