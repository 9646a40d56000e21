// Package regioncount is the table aggregation of examples/02-table-aggregate:
// a table of user -> region, re-keyed by region and counted, with helpers to
// feed it from text lines and read its results.
package regioncount

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Store names: the users table (its changelog is the input topic) and the
// counts per region (changelog "<app>-users-per-region-changelog").
const (
	UsersStore  = "users"
	CountsStore = "users-per-region"
)

// BaseTimestamp is the timestamp of the first input line; line i (counted
// from 0, blank lines included) gets BaseTimestamp+i.
const BaseTimestamp int64 = 1700000000000

// Topology reads input as a table (key user, value region; a null value
// deletes the user), groups it by region and counts the users of each region
// into output: key the region, value the count as Kafka's 8-byte big-endian
// long. A user moving from one region to another is subtracted from the old
// region and added to the new one; a region whose last user leaves gets 0.
func Topology(input, output string) (*topology.Topology, error) {
	b := topology.NewBuilder()
	users := topology.Table(b, input, topology.String(), topology.String(), topology.Named(UsersStore))
	byRegion := topology.GroupTableBy(users, func(user, region string) (string, string) { return region, user })
	byRegion.Count(topology.Named(CountsStore)).ToStream().To(output)
	return b.Build()
}

// Update is one input line: a user's region, or the user's removal.
type Update struct {
	User   string
	Region string
	Delete bool
}

// ParseLine reads "user region" (the user is in region) or "user" alone
// (the user is removed). ok is false for a blank line; more than two fields
// are an error.
func ParseLine(line string) (u Update, ok bool, err error) {
	f := strings.Fields(line)
	switch len(f) {
	case 0:
		return u, false, nil
	case 1:
		return Update{User: f[0], Delete: true}, true, nil
	case 2:
		return Update{User: f[0], Region: f[1]}, true, nil
	}
	return u, false, fmt.Errorf("%d fields in %q: want \"user region\" or \"user\"", len(f), line)
}

// ProduceLines sends each line of r to topic: key the user, value the region
// or null for a removal, timestamp BaseTimestamp+i for line i. Bad lines are
// reported with their number before anything is sent.
func ProduceLines(ctx context.Context, cl *kgo.Client, topic string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var recs []*kgo.Record
	for i := 0; sc.Scan(); i++ {
		u, ok, err := ParseLine(sc.Text())
		if err != nil {
			return fmt.Errorf("line %d: %w", i+1, err)
		}
		if !ok {
			continue
		}
		rec := &kgo.Record{Topic: topic, Key: []byte(u.User), Timestamp: time.UnixMilli(BaseTimestamp + int64(i))}
		if !u.Delete {
			rec.Value = []byte(u.Region)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce to %s: %w", topic, err)
	}
	return nil
}

// Count is a region and its number of users.
type Count struct {
	Region string
	Users  int64
}

// ReadCounts reads the output topic from the start to its current end
// (read_committed) and returns the last count sent for every region, sorted
// by region (byte order).
func ReadCounts(ctx context.Context, brokers []string, topic string, conn ...kgo.Opt) ([]Count, error) {
	cs, err := wordcount.ReadCounts(ctx, brokers, topic, conn...)
	if err != nil {
		return nil, err
	}
	out := make([]Count, len(cs))
	for i, c := range cs {
		out[i] = Count{Region: c.Word, Users: c.Count}
	}
	return out, nil
}
