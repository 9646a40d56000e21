package partition

import (
	"context"
	"encoding/binary"
	"syscall"
	"testing"
	"time"

	"github.com/eddystreams/eddy/state"
	"github.com/twmb/franz-go/pkg/kgo"
)

// memChangelog is a ChangelogReader over one in-memory partition, handing
// out batches of fetchBatch records as fetches from Kafka would.
type memChangelog struct {
	recs       []*kgo.Record
	fetchBatch int
}

func (m *memChangelog) Restore(_ context.Context, _ state.TopicPartition, from, until int64, apply func([]*kgo.Record) error) (int64, error) {
	end := int64(len(m.recs))
	if until >= 0 && until < end {
		end = until
	}
	for from < end {
		n := min(end, from+int64(m.fetchBatch))
		if err := apply(m.recs[from:n]); err != nil {
			return from, err
		}
		from = n
	}
	return from, nil
}

// changelogRecords makes n changelog records of valueSize-byte values
// with 8-byte keys spread over the key space, as a hashed keyed changelog
// has; one in eight rewrites an earlier key.
func changelogRecords(n, valueSize int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	value := make([]byte, valueSize)
	for i := range value {
		value[i] = byte(i*7 + 3)
	}
	for i := range recs {
		k := uint64(i)
		if i%8 == 7 {
			k = uint64(i / 2)
		}
		recs[i] = &kgo.Record{Key: binary.BigEndian.AppendUint64(nil, k*0x9E3779B97F4A7C15), Value: value, Offset: int64(i)}
	}
	return recs
}

// BenchmarkRestore restores 1M changelog records of 100-byte values into
// a RocksDB store under the default memory budget, from an in-memory
// changelog in fetches of 5000 records: plain write batches, and write
// batches with bulk-load settings (what tasks do). Each iteration restores
// into a new store; records/s and MB/s (keys and values) include opening
// nothing but everything until the store is ready for processing (the
// final compaction of a bulk load).
func BenchmarkRestore(b *testing.B) {
	const records, valueSize = 1_000_000, 100
	log := &memChangelog{recs: changelogRecords(records, valueSize), fetchBatch: 5000}
	bytes := float64(records * (8 + valueSize))
	for _, mode := range []string{"plain", "tuned"} {
		b.Run(mode, func(b *testing.B) {
			budget, err := state.NewMemoryBudget(128<<20, 64<<20)
			if err != nil {
				b.Fatal(err)
			}
			defer budget.Close()
			var elapsed, cpu time.Duration
			for range b.N {
				s, err := state.OpenRocksDB(b.TempDir(), "bench", state.RocksDBConfig{Budget: budget})
				if err != nil {
					b.Fatal(err)
				}
				start, cpu0 := time.Now(), cpuTime(b)
				apply := func(recs []*kgo.Record) error { return applyToStore(s, recs) }
				finish := func() error { return nil }
				if mode == "tuned" {
					r := newRestorer(s)
					apply, finish = r.apply, r.finish
				}
				next, err := log.Restore(context.Background(), state.TopicPartition{}, 0, -1, apply)
				if err := finish(); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				cpu += cpuTime(b) - cpu0
				if err != nil || next != records {
					b.Fatalf("restored to %d: %v", next, err)
				}
				s.Close()
			}
			b.ReportMetric(float64(b.N*records)/elapsed.Seconds(), "records/s")
			b.ReportMetric(float64(b.N)*bytes/elapsed.Seconds()/1e6, "MB/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/1e3/float64(b.N*records), "cpu-µs/record")
		})
	}
}

// cpuTime is the CPU time the process has used, RocksDB's background
// threads included: on a shared machine it varies less than the wall time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
