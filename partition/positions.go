package partition

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/eddystreams/eddy/state"
)

// positionsPrefix marks Eddy's commit metadata; Kafka topic names cannot
// contain spaces or semicolons, so the format needs no escaping.
const positionsPrefix = "eddy/1;"

// EncodePositions writes changelog positions as offset commit metadata:
// "eddy/1;<topic> <partition> <offset>;...", sorted.
func EncodePositions(pos map[state.TopicPartition]int64) string {
	if len(pos) == 0 {
		return ""
	}
	parts := make([]string, 0, len(pos))
	for tp, o := range pos {
		parts = append(parts, fmt.Sprintf("%s %d %d", tp.Topic, tp.Partition, o))
	}
	sort.Strings(parts)
	return positionsPrefix + strings.Join(parts, ";")
}

// DecodePositions reads what EncodePositions wrote. Metadata that is not
// Eddy's gives nil and no error.
func DecodePositions(meta string) (map[state.TopicPartition]int64, error) {
	rest, ok := strings.CutPrefix(meta, positionsPrefix)
	if !ok {
		return nil, nil
	}
	pos := map[state.TopicPartition]int64{}
	for _, part := range strings.Split(rest, ";") {
		f := strings.Fields(part)
		if len(f) != 3 {
			return nil, fmt.Errorf("commit metadata %q: bad entry %q", meta, part)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		o, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("commit metadata %q: bad entry %q", meta, part)
		}
		pos[state.TopicPartition{Topic: f[0], Partition: int32(p)}] = o
	}
	return pos, nil
}
