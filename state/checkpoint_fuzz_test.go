package state

import (
	"reflect"
	"testing"
)

// FuzzCheckpoint parses arbitrary checkpoint files. It must not panic;
// what it accepts must encode to a file that parses to the same offsets and
// stream time; what it refuses is ErrCorruptCheckpoint (which makes the task
// wipe its stores and restore them). The seeds run with every `go test`;
// `make fuzz` explores further (docs/fuzzing.md).
func FuzzCheckpoint(f *testing.F) {
	c := &Checkpoint{Offsets: map[TopicPartition]int64{{Topic: "app-store-changelog", Partition: 0}: 42, {Topic: "b", Partition: 7}: 0}, StreamTime: 1700000000000}
	data, err := c.encode()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("0\n"))
	f.Add([]byte("0\r\nt 0 1\r\n"))
	f.Add([]byte("0\nstreamtime 5\nstreamtime 6\n"))
	f.Add([]byte("0\nt 0 1\nt 0 2\n"))
	f.Add([]byte("0\nt -1 1\n"))
	f.Add([]byte("1\n"))
	f.Add([]byte(""))
	// A topic with a tab in it was read, then could not be written back;
	// it is refused now.
	f.Add([]byte("0\nt\tx 0 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &Checkpoint{Offsets: map[TopicPartition]int64{}, StreamTime: UnknownStreamTime}
		if err := c.parse(data); err != nil {
			return
		}
		out, err := c.encode()
		if err != nil {
			t.Fatalf("%q parsed to %+v, which does not encode: %v", data, c, err)
		}
		c2 := &Checkpoint{Offsets: map[TopicPartition]int64{}, StreamTime: UnknownStreamTime}
		if err := c2.parse(out); err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("%q parsed to %+v, encoded as %q, came back as %+v, %v", data, c, out, c2, err)
		}
	})
}
