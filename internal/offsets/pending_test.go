package offsets

import "testing"

// The expected partitions were computed with Java: (g.hashCode() & 0x7fffffff) % 50.
func TestOffsetsPartitionMatchesKafka(t *testing.T) {
	for _, c := range []struct {
		group string
		want  int32
	}{
		{"my-group", 36},
		{"wc-TestBrokerRestartExactlyOnce-3fe5c92f", 6},
		{"é€𝄞x", 1}, // a character outside the BMP counts as two UTF-16 units
	} {
		if got := offsetsPartition(c.group, 50); got != c.want {
			t.Errorf("offsetsPartition(%q) = %d, want %d", c.group, got, c.want)
		}
	}
}
