package partition

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eddystreams/eddy/state"
)

// MaxCommitMetadataBytes is the most offset commit metadata a broker takes
// per partition by default (Kafka's offset.metadata.max.bytes). A commit
// with more fails, and would fail again on every retry.
const MaxCommitMetadataBytes = 4096

// Commit metadata formats. Version 1 is text, positions by changelog topic
// name; it grows with the names and passes 4096 bytes at a few dozen stores
// with long names, so tasks now write version 2 and read both.
//
// Version 2 is "eddy/2;" and the unpadded URL-safe base64 of:
//
//	uvarint  flags (flagPositionsOmitted)
//	varint   stream time (-1: unknown)
//	uint32   fingerprint of the task's changelogs (big endian; see
//	         ChangelogFingerprint), so that positions by index are not read
//	         against another topology's stores
//	uvarint  count, then count × (uvarint store index, uvarint offset)
//	         with flagOwner: varint owner, varint commit time (Unix ms),
//	         uvarint commit interval (ms)
//
// and nothing after. A reader refuses unknown flags and bytes after the
// last field as corruption, so a new field needs a new prefix ("eddy/3;"),
// which older readers take as metadata that is not theirs (positions
// unknown: restore to the changelogs' ends), never as version 2.
//
// A store's index is its place in the sub-topology's Stores. That is
// about 6 to 14 bytes a store whatever its name. When even that does not fit
// one partition's metadata, it is cut into parts spread over the task's
// input partitions (each has its own MaxCommitMetadataBytes), each part
// "eddy/2p;<i>/<n>;<crc32 of the whole, hex>;<piece>".
const (
	positionsPrefix   = "eddy/1;"
	metadataV2Prefix  = "eddy/2;"
	metadataPartsFlag = "eddy/2p;"
)

// flagPositionsOmitted marks version 2 metadata whose positions did not fit
// the task's input partitions: a restart after a crash restores to the
// changelogs' ends, as Kafka Streams does.
const flagPositionsOmitted = 1

// flagOwner marks version 2 metadata that says who committed, when, and how
// often (CommitMetadata.Owner); flagReleased marks an owner's last commit
// before a clean close.
const (
	flagOwner    = 2
	flagReleased = 4
)

// streamTimeEntry names the stream-time entry of version 1 metadata. It is
// written as a position ("~streamtime 0 <ms>") of a topic Kafka cannot have
// ('~' is not allowed in topic names), so that readers that only know
// positions read it as the position of a changelog they do not have and
// ignore it.
const streamTimeEntry = "~streamtime"

// CommitMetadata is what a task stores beside its committed input offsets.
type CommitMetadata struct {
	// Positions are changelog positions by topic partition: what version 1
	// holds (tools that know changelog topics but not the topology may still
	// write it).
	Positions map[state.TopicPartition]int64
	// StorePositions are changelog positions by the store's index in the
	// sub-topology (version 2), valid for the changelogs whose fingerprint
	// is Fingerprint.
	StorePositions map[int]int64
	Fingerprint    uint32
	// PositionsOmitted is set when the positions did not fit the commit.
	PositionsOmitted bool
	// StreamTime is the task's stream time, or state.UnknownStreamTime.
	StreamTime int64
	// Owner identifies the process run that committed (0: unknown), so
	// that the next owner of the task can tell whether its predecessor may
	// still be writing (see CommitPoint.PredecessorGrace).
	Owner int64
	// CommittedAt is the wall-clock time of the commit (Unix ms, 0:
	// unknown) and Interval the committer's commit interval: an owner that
	// is alive commits again, or finds it was fenced, within about one
	// interval.
	CommittedAt int64
	Interval    time.Duration
	// Released is set by the last commit of an owner that closed the task
	// cleanly: it writes nothing more.
	Released bool
}

// ChangelogFingerprint identifies a task's changelog topics by their store
// index (see CommitMetadata.StorePositions); changelogs maps a store's index
// to its changelog topic.
func ChangelogFingerprint(changelogs map[int]string) uint32 {
	idx := make([]int, 0, len(changelogs))
	for i := range changelogs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	h := fnv.New32a()
	for _, i := range idx {
		fmt.Fprintf(h, "%d=%s\n", i, changelogs[i])
	}
	return h.Sum32()
}

// EncodeCommitMetadata writes m as offset commit metadata. With Positions
// (by topic name) it writes version 1: "eddy/1;<topic> <partition>
// <offset>;...", sorted, with the stream time as the entry "~streamtime 0
// <ms>". Otherwise it writes version 2 (see above). Nothing to store gives
// "".
func EncodeCommitMetadata(m CommitMetadata) string {
	if len(m.Positions) > 0 {
		return encodeV1(m)
	}
	if len(m.StorePositions) == 0 && !m.PositionsOmitted && m.StreamTime < 0 && m.Owner == 0 && m.CommittedAt == 0 && !m.Released {
		return ""
	}
	b := make([]byte, 0, 16+len(m.StorePositions)*(2*binary.MaxVarintLen64))
	var flags uint64
	if m.PositionsOmitted {
		flags |= flagPositionsOmitted
	}
	if m.Owner != 0 || m.CommittedAt != 0 {
		flags |= flagOwner
	}
	if m.Released {
		flags |= flagReleased
	}
	b = binary.AppendUvarint(b, flags)
	b = binary.AppendVarint(b, m.StreamTime)
	b = binary.BigEndian.AppendUint32(b, m.Fingerprint)
	idx := make([]int, 0, len(m.StorePositions))
	for i := range m.StorePositions {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	b = binary.AppendUvarint(b, uint64(len(idx)))
	for _, i := range idx {
		b = binary.AppendUvarint(b, uint64(i))
		b = binary.AppendUvarint(b, uint64(max(m.StorePositions[i], 0)))
	}
	if flags&flagOwner != 0 {
		b = binary.AppendVarint(b, m.Owner)
		b = binary.AppendVarint(b, m.CommittedAt)
		b = binary.AppendUvarint(b, uint64(max(m.Interval.Milliseconds(), 0)))
	}
	return metadataV2Prefix + base64.RawURLEncoding.EncodeToString(b)
}

func encodeV1(m CommitMetadata) string {
	parts := make([]string, 0, len(m.Positions)+1)
	for tp, o := range m.Positions {
		parts = append(parts, fmt.Sprintf("%s %d %d", tp.Topic, tp.Partition, o))
	}
	if m.StreamTime >= 0 {
		parts = append(parts, fmt.Sprintf("%s 0 %d", streamTimeEntry, m.StreamTime))
	}
	sort.Strings(parts)
	return positionsPrefix + strings.Join(parts, ";")
}

// SplitCommitMetadata cuts encoded metadata into at most n parts of at most
// MaxCommitMetadataBytes each, one per input partition of the commit. Metadata
// that fits is returned whole (every partition gets the same). It reports
// false when n parts are not enough.
func SplitCommitMetadata(meta string, n int) ([]string, bool) {
	if len(meta) <= MaxCommitMetadataBytes {
		return []string{meta}, true
	}
	body, ok := strings.CutPrefix(meta, metadataV2Prefix)
	if !ok || n < 2 {
		return nil, false
	}
	sum := fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(body)))
	header := func(i, parts int) string {
		return metadataPartsFlag + strconv.Itoa(i) + "/" + strconv.Itoa(parts) + ";" + sum + ";"
	}
	// Every header is at most as long as the last one's of n parts.
	room := MaxCommitMetadataBytes - len(header(n-1, n))
	parts := (len(body) + room - 1) / room
	if parts > n {
		return nil, false
	}
	out := make([]string, 0, parts)
	for i := 0; i < parts; i++ {
		piece := body[i*room : min((i+1)*room, len(body))]
		out = append(out, header(i, parts)+piece)
	}
	return out, true
}

// DecodeCommitMetadata reads what EncodeCommitMetadata wrote, from the
// metadata of every committed input partition of a task: whole metadata
// (version 1 or 2, the same on every partition) or the parts of a split
// one. Metadata that is not Eddy's gives no positions,
// state.UnknownStreamTime and no error; so do parts that do not make one
// whole (the positions are then unknown, and restoring to the changelogs'
// ends is the safe answer).
func DecodeCommitMetadata(metas ...string) (CommitMetadata, error) {
	m := CommitMetadata{StreamTime: state.UnknownStreamTime}
	type partSet struct {
		n      int
		pieces map[int]string
	}
	sets := map[string]*partSet{}
	decoded := false
	for _, meta := range metas {
		if rest, ok := strings.CutPrefix(meta, metadataPartsFlag); ok {
			f := strings.SplitN(rest, ";", 3)
			var i, n int
			if len(f) != 3 {
				return m, fmt.Errorf("commit metadata part %q: want <i>/<n>;<crc>;<piece>", trimForError(meta))
			}
			if _, err := fmt.Sscanf(f[0], "%d/%d", &i, &n); err != nil || i < 0 || i >= n {
				return m, fmt.Errorf("commit metadata part %q: bad index %q", trimForError(meta), f[0])
			}
			key := f[1] + "/" + strconv.Itoa(n)
			s := sets[key]
			if s == nil {
				s = &partSet{n: n, pieces: map[int]string{}}
				sets[key] = s
			}
			s.pieces[i] = f[2]
			continue
		}
		if decoded {
			continue // every partition of a commit holds the same
		}
		md, ok, err := decodeWhole(meta)
		if err != nil {
			return m, err
		}
		if ok {
			m, decoded = md, true
		}
	}
	if decoded {
		return m, nil
	}
	keys := make([]string, 0, len(sets))
	for k := range sets {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := sets[k]
		if len(s.pieces) != s.n {
			continue
		}
		var sb strings.Builder
		for i := 0; i < s.n; i++ {
			sb.WriteString(s.pieces[i])
		}
		if fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(sb.String()))) != k[:strings.IndexByte(k, '/')] {
			continue
		}
		md, _, err := decodeWhole(metadataV2Prefix + sb.String())
		return md, err
	}
	return m, nil
}

// decodeWhole decodes one unsplit metadata string; ok is false when it is
// not Eddy's.
func decodeWhole(meta string) (CommitMetadata, bool, error) {
	if rest, ok := strings.CutPrefix(meta, positionsPrefix); ok {
		m, err := decodeV1(meta, rest)
		return m, true, err
	}
	rest, ok := strings.CutPrefix(meta, metadataV2Prefix)
	if !ok {
		return CommitMetadata{StreamTime: state.UnknownStreamTime}, false, nil
	}
	m, err := decodeV2(rest)
	if err != nil {
		return m, true, fmt.Errorf("commit metadata %q: %w", trimForError(meta), err)
	}
	return m, true, nil
}

var errShortMetadata = errors.New("truncated")

func decodeV2(body string) (CommitMetadata, error) {
	m := CommitMetadata{StreamTime: state.UnknownStreamTime}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return m, err
	}
	uv := func() (uint64, error) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, errShortMetadata
		}
		b = b[n:]
		return v, nil
	}
	flags, err := uv()
	if err != nil {
		return m, err
	}
	if flags&^(flagPositionsOmitted|flagOwner|flagReleased) != 0 {
		return m, fmt.Errorf("unknown flags %#x", flags)
	}
	st, n := binary.Varint(b)
	if n <= 0 {
		return m, errShortMetadata
	}
	b = b[n:]
	if len(b) < 4 {
		return m, errShortMetadata
	}
	m.Fingerprint = binary.BigEndian.Uint32(b)
	b = b[4:]
	count, err := uv()
	if err != nil {
		return m, err
	}
	if count > uint64(len(b)) { // each entry takes at least 2 bytes
		return m, errShortMetadata
	}
	m.StreamTime = st
	m.PositionsOmitted = flags&flagPositionsOmitted != 0
	for range count {
		i, err := uv()
		if err != nil {
			return m, err
		}
		o, err := uv()
		if err != nil {
			return m, err
		}
		if i > math.MaxInt32 || o > math.MaxInt64 {
			return m, fmt.Errorf("store %d position %d out of range", i, o)
		}
		if m.StorePositions == nil {
			m.StorePositions = map[int]int64{}
		}
		if _, dup := m.StorePositions[int(i)]; dup {
			return m, fmt.Errorf("store %d listed twice", i)
		}
		m.StorePositions[int(i)] = int64(o)
	}
	m.Released = flags&flagReleased != 0
	if flags&flagOwner != 0 {
		var n1, n2 int
		m.Owner, n1 = binary.Varint(b)
		if n1 > 0 {
			m.CommittedAt, n2 = binary.Varint(b[n1:])
		}
		if n1 <= 0 || n2 <= 0 {
			return m, errShortMetadata
		}
		b = b[n1+n2:]
		ms, err := uv()
		if err != nil {
			return m, err
		}
		if ms > uint64(math.MaxInt64/int64(time.Millisecond)) {
			return m, fmt.Errorf("commit interval of %d ms out of range", ms)
		}
		m.Interval = time.Duration(ms) * time.Millisecond
	}
	if len(b) != 0 {
		return m, fmt.Errorf("%d bytes after the last field", len(b))
	}
	return m, nil
}

func decodeV1(meta, rest string) (CommitMetadata, error) {
	m := CommitMetadata{StreamTime: state.UnknownStreamTime}
	for _, part := range strings.Split(rest, ";") {
		f := strings.Fields(part)
		if len(f) != 3 {
			return m, fmt.Errorf("commit metadata %q: bad entry %q", trimForError(meta), part)
		}
		p, err1 := strconv.ParseInt(f[1], 10, 32)
		o, err2 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil {
			return m, fmt.Errorf("commit metadata %q: bad entry %q", trimForError(meta), part)
		}
		if f[0] == streamTimeEntry {
			m.StreamTime = o
			continue
		}
		if m.Positions == nil {
			m.Positions = map[state.TopicPartition]int64{}
		}
		m.Positions[state.TopicPartition{Topic: f[0], Partition: int32(p)}] = o
	}
	return m, nil
}

// trimForError keeps error messages short: metadata may be 4 KiB.
func trimForError(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
