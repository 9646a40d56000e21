package eddy

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"github.com/eddystreams/eddy/actors"
	"github.com/eddystreams/eddy/topology"
)

// WindowedValue is one window of a key read from a window or session store
// (topology.WindowedValue).
type WindowedValue[K, V any] = topology.WindowedValue[K, V]

// WindowStoreReader reads the window or session store of a windowed
// aggregation of a running App (Kafka Streams' ReadOnlyWindowStore.fetch
// and ReadOnlySessionStore.fetch).
type WindowStoreReader[K, V any] struct {
	r    *StoreReader[K, V]
	size int64 // time windows: the window size, to report ends; 0 for sessions
}

// WindowStore returns a reader of the named window or session store, with
// the serdes of its aggregation. Fetch reports a window's end as start plus
// the windows' size, which the topology gives (StoreSpec.WindowSize; for
// sliding windows the time difference); session keys hold both ends.
//
// The size argument is deprecated and may be left out: the size comes from
// the topology. A size that is given must be the topology's (in
// milliseconds); it is ignored for session stores.
func WindowStore[K, V any](app *App, name string, size ...int64) (*WindowStoreReader[K, V], error) {
	r, err := typedStore[K, V](app, name)
	if err != nil {
		return nil, err
	}
	switch r.spec.Kind {
	case topology.KindWindow, topology.KindSession:
	default:
		return nil, fmt.Errorf("eddy: store %q is a %s store, not a window or session store", name, r.spec.Kind)
	}
	if len(size) > 1 {
		return nil, fmt.Errorf("eddy: WindowStore of %q: at most one size, got %d", name, len(size))
	}
	w := &WindowStoreReader[K, V]{r: r}
	if r.spec.Kind == topology.KindWindow {
		w.size = r.spec.WindowSize.Milliseconds()
		if len(size) == 1 && size[0] != w.size {
			return nil, fmt.Errorf("eddy: window store %q has windows of %dms, not the %dms given", name, w.size, size[0])
		}
	}
	return w, nil
}

// Fetch returns key's windows that start in [from, to] (session stores:
// sessions that end at or after from and start at or before to), ordered
// by start (sessions: by end), read on the key's task between two records.
// The key's task is read on the node that runs it (see StoreReader.Get).
func (w *WindowStoreReader[K, V]) Fetch(ctx context.Context, key K, from, to int64, opts ...QueryOption) ([]WindowedValue[K, V], error) {
	r := w.r
	if err := r.ready(); err != nil {
		return nil, err
	}
	kb, err := r.ks.Serialize(r.topic(), key)
	if err != nil {
		return nil, fmt.Errorf("eddy: store %q: serialize key: %w", r.spec.Name, err)
	}
	session := r.spec.Kind == topology.KindSession
	lo, hi := topology.WindowKey(kb, max(0, from), 0), topology.WindowKey(kb, to, math.MaxUint32)
	if session {
		lo, hi = topology.SessionKey(kb, 0, max(0, from)), topology.SessionKey(kb, math.MaxInt64, math.MaxInt64)
	}
	// One key's windows: few, read page by page on the key's task.
	id := r.taskOf(kb)
	var entries []actors.KV
	q := actors.StoreQuery{From: lo, To: append(hi, 0)}
	for {
		res, _, err := r.query(ctx, id, q, opts...)
		if err != nil {
			return nil, err
		}
		entries = append(entries, res.Entries...)
		if !res.More {
			break
		}
		q.From = res.Next
	}
	var out []WindowedValue[K, V]
	for _, e := range entries {
		var k []byte
		var win topology.Window
		var ts int64
		vb := e.Value
		if session {
			k, win.Start, win.End, err = topology.SplitSessionKey(e.Key)
			if err == nil && win.Start > to {
				continue
			}
			ts = win.End
		} else {
			k, win.Start, _, err = topology.SplitWindowKey(e.Key)
			win.End = win.Start + w.size
			if err == nil {
				ts, vb, err = topology.SplitTimestamped(vb)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("eddy: store %q: %w", r.spec.Name, err)
		}
		if !bytes.Equal(k, kb) {
			continue // another key that starts with the same bytes
		}
		v, err := r.vs.Deserialize(r.topic(), vb)
		if err != nil {
			return nil, fmt.Errorf("eddy: store %q: deserialize value: %w", r.spec.Name, err)
		}
		out = append(out, WindowedValue[K, V]{Key: topology.Windowed[K]{Key: key, Window: win}, Value: v, Timestamp: ts})
	}
	return out, nil
}
