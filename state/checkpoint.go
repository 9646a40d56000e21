package state

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"github.com/eddystreams/eddy/topology"
)

// A checkpoint file records, per task, the changelog offsets up to which
// its local stores are known to be complete, plus the task's stream time.
// Text format, one record per line, fields separated by single spaces:
//
//	0                          version
//	streamtime <ms>            optional; absent means UnknownStreamTime
//	<topic> <partition> <offset>   sorted by topic, then partition
const checkpointVersion = "0"

// UnknownStreamTime is Checkpoint.StreamTime when no stream time is
// recorded.
const UnknownStreamTime int64 = -1

// ErrCorruptCheckpoint is wrapped by errors from reading a checkpoint file
// that exists but cannot be parsed. The safe response is to wipe the
// task's stores and restore them from the start of their changelogs.
var ErrCorruptCheckpoint = errors.New("corrupt checkpoint file")

// TopicPartition names one partition of a topic (topology.TopicPartition:
// the layout speaks of the same partitions).
type TopicPartition = topology.TopicPartition

// Checkpoint is the content of a checkpoint file.
type Checkpoint struct {
	// Offsets maps each changelog partition to the offset restoration
	// resumes from.
	Offsets map[TopicPartition]int64
	// StreamTime is the task's stream time in milliseconds, or
	// UnknownStreamTime.
	StreamTime int64
}

// ReadCheckpoint returns the changelog offsets in the checkpoint file at
// path; a missing file gives an empty map and no error.
func ReadCheckpoint(path string) (map[TopicPartition]int64, error) {
	c, err := ReadCheckpointFile(path)
	if err != nil {
		return nil, err
	}
	return c.Offsets, nil
}

// WriteCheckpoint atomically replaces the checkpoint file at path with
// offsets and no stream time.
func WriteCheckpoint(path string, offsets map[TopicPartition]int64) error {
	return (&Checkpoint{Offsets: offsets, StreamTime: UnknownStreamTime}).Write(path)
}

// ReadCheckpointFile reads the checkpoint file at path. A missing file
// gives an empty checkpoint (no offsets, UnknownStreamTime) and no error;
// an unparsable one gives an error wrapping ErrCorruptCheckpoint.
func ReadCheckpointFile(path string) (*Checkpoint, error) {
	c := &Checkpoint{Offsets: make(map[TopicPartition]int64), StreamTime: UnknownStreamTime}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	if err := c.parse(data); err != nil {
		return nil, fmt.Errorf("read checkpoint %s: %w", path, err)
	}
	return c, nil
}

func (c *Checkpoint) parse(data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: line %d: %s", ErrCorruptCheckpoint, line, fmt.Sprintf(format, args...))
	}
	sawStreamTime := false
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			if text != checkpointVersion {
				return corrupt("unsupported version %q", text)
			}
			continue
		}
		f := strings.Split(text, " ")
		switch len(f) {
		case 2:
			if f[0] != "streamtime" || sawStreamTime {
				return corrupt("unexpected %q", text)
			}
			t, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return corrupt("stream time %q", f[1])
			}
			c.StreamTime, sawStreamTime = t, true
		case 3:
			p, errP := strconv.ParseInt(f[1], 10, 32)
			o, errO := strconv.ParseInt(f[2], 10, 64)
			if !validCheckpointTopic(f[0]) || errP != nil || errO != nil || p < 0 || o < 0 {
				return corrupt("bad offset entry %q", text)
			}
			tp := TopicPartition{Topic: f[0], Partition: int32(p)}
			if _, dup := c.Offsets[tp]; dup {
				return corrupt("duplicate entry for %s", tp)
			}
			c.Offsets[tp] = o
		default:
			return corrupt("unexpected %q", text)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptCheckpoint, err)
	}
	if line == 0 {
		return fmt.Errorf("%w: empty file", ErrCorruptCheckpoint)
	}
	return nil
}

// validCheckpointTopic says whether a topic name can be written to a
// checkpoint file and read back: not empty, and no white space (a field
// separator; the reader splits lines and fields, so a tab or a carriage
// return would not come back as written).
func validCheckpointTopic(t string) bool {
	return t != "" && !strings.ContainsFunc(t, unicode.IsSpace)
}

// encode renders c in the file format, sorted so equal checkpoints give
// equal bytes.
func (c *Checkpoint) encode() ([]byte, error) {
	tps := make([]TopicPartition, 0, len(c.Offsets))
	for tp, o := range c.Offsets {
		if !validCheckpointTopic(tp.Topic) {
			return nil, fmt.Errorf("invalid topic name %q", tp.Topic)
		}
		if tp.Partition < 0 || o < 0 {
			return nil, fmt.Errorf("invalid offset %d for %s", o, tp)
		}
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	var b bytes.Buffer
	b.WriteString(checkpointVersion + "\n")
	if c.StreamTime != UnknownStreamTime {
		fmt.Fprintf(&b, "streamtime %d\n", c.StreamTime)
	}
	for _, tp := range tps {
		fmt.Fprintf(&b, "%s %d %d\n", tp.Topic, tp.Partition, c.Offsets[tp])
	}
	return b.Bytes(), nil
}

// Write atomically replaces the checkpoint file at path: it writes a
// temporary file in the same directory, syncs it, renames it over path and
// syncs the directory, so a crash leaves either the old or the new file.
func (c *Checkpoint) Write(path string) error {
	data, err := c.encode()
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	return nil
}

// RemoveCheckpoint deletes the checkpoint file at path, if there is one,
// and syncs its directory so that the removal survives a crash of the
// machine: a checkpoint that came back would let the next start trust local
// stores that were written past it.
func RemoveCheckpoint(path string) error {
	if err := os.Remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove checkpoint %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("remove checkpoint %s: sync directory: %w", path, err)
	}
	return nil
}

func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
