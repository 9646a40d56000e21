package eddy

// The HTTP/JSON query gateway: every node of an App answers for every key
// of every store, asking the key's owner through App.request (query.go,
// query_route.go), and renders keys and values with the store's serdes.
//
//	GET /v1/stores
//	    the stores: name, kind, key and value serde kinds, task count (or
//	    "global" for a global table's store, which every node answers from
//	    its own copy)
//	GET /v1/stores/{store}/keys/{key}
//	    one key's value, with the node and assignment epoch that answered;
//	    404 {"error": ...} when the key is absent
//	GET /v1/stores/{store}/range?from=&to=
//	    the entries with keys from..to, both included (either may be left
//	    out), in serialized-key order
//	GET /v1/stores/{store}/prefix?prefix=
//	    the entries whose serialized key starts with prefix (its UTF-8
//	    bytes; prefix_b64 for any bytes)
//	GET /v1/stores/{store}/all
//	    every entry, in serialized-key order
//	GET /v1/stores/{store}/windows/{key}?from=&to=
//	    a window or session store's windows of key that start in
//	    [from, to] (sessions: that end at or after from and start at or
//	    before to), times in epoch milliseconds; size=<ms> gives the window
//	    size when the topology does not know it
//	GET /v1/keys/{store}/{key}/metadata
//	    where the key lives: its task, the active node and the standbys
//
// Keys in the path are text read by the key serde (topology.TextKeys): a
// string as is, a number in decimal, a JSON document, bytes as base64. Any
// key, of any serde, may be given instead as key_b64=<base64 of its
// serialized bytes> with "_" (or nothing) in its place in the path; from,
// to and prefix likewise as from_b64, to_b64, prefix_b64. Keys and values
// in answers are JSON through topology.JSONValues (strings, numbers, JSON
// documents, bytes as base64) or, for serdes without it, "key_b64" and
// "value_b64" fields.
//
// Scans answer a page of at most limit entries (default 1000, at most
// 10000) as {"entries": [{"key":..., "value":...}, ...], "next": cursor};
// "next" is there when more entries follow: ask again with cursor=<next>
// and the same other parameters. max_lag=N on any read lets a standby
// copy at most N changelog records behind answer (AllowStale); a read of
// one key then says "standby" and "lag".
//
// Errors are {"error": "..."}: 400 for a bad parameter, 404 for an unknown
// store or route, 401 without the bearer token, 503 with Retry-After when
// the key's task has no owner that answers now (ErrQueryUnavailable) or
// this node is closed (ErrAppClosed), 502
// when the owner refused the query (ErrQueryRefused).

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/eddystreams/eddy/topology"
)

const (
	defaultHTTPLimit = 1000
	maxHTTPLimit     = 10000
)

func (a *App) registerQueryRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/stores", a.httpStores)
	mux.HandleFunc("GET /v1/stores/{store}/keys/{key...}", a.httpGet)
	mux.HandleFunc("GET /v1/stores/{store}/range", a.httpScan(scanRange))
	mux.HandleFunc("GET /v1/stores/{store}/prefix", a.httpScan(scanPrefix))
	mux.HandleFunc("GET /v1/stores/{store}/all", a.httpScan(scanAll))
	mux.HandleFunc("GET /v1/stores/{store}/windows/{key...}", a.httpWindows)
	mux.HandleFunc("GET /v1/keys/{store}/{key}/metadata", a.httpKeyMetadata)
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "the query gateway answers GET requests only")
			return
		}
		writeError(w, http.StatusNotFound, "no such route: "+r.URL.Path)
	})
}

// httpError is a request the gateway refuses, with its status.
type httpError struct {
	status int
	msg    string
}

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func (e *httpError) write(w http.ResponseWriter) { writeError(w, e.status, e.msg) }

// gwStore is a store as the gateway sees it: its spec, and how its keys are
// read from text and its keys and values shown as JSON (nil: base64).
type gwStore struct {
	spec   topology.StoreSpec
	keys   topology.TextKeys
	keyJS  topology.JSONValues
	valJS  topology.JSONValues
	reader *StoreReader[[]byte, []byte] // untyped: serialized bytes in and out
}

func (a *App) gwStore(name string) (*gwStore, *httpError) {
	spec, ok := a.topo.Store(name)
	if !ok {
		return nil, &httpError{http.StatusNotFound, fmt.Sprintf("no store named %q (GET /v1/stores lists them)", name)}
	}
	r, err := StoreWithSerdes(a, name, topology.Bytes(), topology.Bytes())
	if err != nil {
		return nil, &httpError{http.StatusNotFound, err.Error()}
	}
	s := &gwStore{spec: spec, reader: r}
	s.keys, _ = spec.KeySerde.(topology.TextKeys)
	s.keyJS, _ = spec.KeySerde.(topology.JSONValues)
	s.valJS, _ = spec.ValueSerde.(topology.JSONValues)
	return s, nil
}

// queryReady says whether the App serves queries yet (its query actor runs).
func (a *App) queryReady() *httpError {
	if a.QueryPID() == nil {
		return &httpError{http.StatusServiceUnavailable, "the App is not started"}
	}
	return nil
}

// keyOf reads the key of a route: key_b64 when given (the path's key then
// "" or "_"), else the path's key read by the key serde.
func (s *gwStore) keyOf(q url.Values, pathKey string) ([]byte, *httpError) {
	if q.Has("key_b64") {
		if pathKey != "" && pathKey != "_" {
			return nil, badRequest("give the key in the path or as key_b64, not both")
		}
		b, err := topology.DecodeBase64(q.Get("key_b64"))
		if err != nil {
			return nil, badRequest("key_b64: %v", err)
		}
		return b, nil
	}
	return s.textKey("key", pathKey)
}

func (s *gwStore) textKey(what, text string) ([]byte, *httpError) {
	if s.keys == nil {
		return nil, badRequest("store %q: its key serde (%s) cannot read keys as text: give %s_b64=<base64 of the serialized key>", s.spec.Name, serdeKind(s.spec.KeySerde), what)
	}
	b, err := s.keys.SerializeText(text)
	if err != nil {
		return nil, badRequest("store %q: %s: %v", s.spec.Name, what, err)
	}
	return b, nil
}

// keyParam reads the optional key parameter name (text, or name_b64).
func (s *gwStore) keyParam(q url.Values, name string) ([]byte, bool, *httpError) {
	switch text, b64 := q.Has(name), q.Has(name+"_b64"); {
	case text && b64:
		return nil, false, badRequest("give %s or %s_b64, not both", name, name)
	case b64:
		b, err := topology.DecodeBase64(q.Get(name + "_b64"))
		if err != nil {
			return nil, false, badRequest("%s_b64: %v", name, err)
		}
		return b, true, nil
	case text:
		b, herr := s.textKey(name, q.Get(name))
		return b, herr == nil, herr
	}
	return nil, false, nil
}

// queryOptions reads max_lag.
func queryOptions(q url.Values) ([]QueryOption, bool, *httpError) {
	if !q.Has("max_lag") {
		return nil, false, nil
	}
	n, err := strconv.ParseInt(q.Get("max_lag"), 10, 64)
	if err != nil || n < 0 {
		return nil, false, badRequest("max_lag: want a count of records >= 0, got %q", q.Get("max_lag"))
	}
	return []QueryOption{AllowStale(n)}, true, nil
}

func parseLimit(q url.Values) (int, *httpError) {
	if !q.Has("limit") {
		return defaultHTTPLimit, nil
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n < 1 || n > maxHTTPLimit {
		return 0, badRequest("limit: want 1..%d, got %q", maxHTTPLimit, q.Get("limit"))
	}
	return n, nil
}

func parseMillis(q url.Values, name string, def int64) (int64, *httpError) {
	if !q.Has(name) {
		return def, nil
	}
	n, err := strconv.ParseInt(q.Get(name), 10, 64)
	if err != nil {
		return 0, badRequest("%s: want epoch milliseconds, got %q", name, q.Get(name))
	}
	return n, nil
}

// writeQueryError answers a failed query: 503 (with Retry-After) while the
// task has no owner that answers or this node is closing, 502 when the
// owner refused it.
func writeQueryError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrQueryUnavailable), errors.Is(err, ErrAppClosed):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, err.Error())
	case errors.Is(err, ErrQueryRefused):
		writeError(w, http.StatusBadGateway, err.Error())
	default:
		writeError(w, http.StatusInternalServerError, err.Error())
	}
}

// gwEntry is a key and value shown as JSON, or as base64 when their serde
// cannot show them.
type gwEntry struct {
	Key      json.RawMessage `json:"key,omitempty"`
	KeyB64   *string         `json:"key_b64,omitempty"`
	Value    json.RawMessage `json:"value,omitempty"`
	ValueB64 *string         `json:"value_b64,omitempty"`
}

// render shows b as JSON through j, or as base64 (also when j cannot read
// b, so that a bad record is still seen).
func render(j topology.JSONValues, b []byte) (json.RawMessage, *string) {
	if j != nil {
		if raw, err := j.SerializedJSON(b); err == nil {
			return raw, nil
		}
	}
	s := base64.StdEncoding.EncodeToString(b)
	return nil, &s
}

func (s *gwStore) entry(k, v []byte) gwEntry {
	var e gwEntry
	e.Key, e.KeyB64 = render(s.keyJS, k)
	e.Value, e.ValueB64 = render(s.valJS, v)
	return e
}

func serdeKind(serde any) string {
	switch s := serde.(type) {
	case nil:
		return "none"
	case topology.JSONValues:
		return s.SerdeKind()
	default:
		return fmt.Sprintf("custom %T", s)
	}
}

type storeInfo struct {
	Name       string `json:"name"`
	Kind       string `json:"kind"`
	KeySerde   string `json:"key_serde"`
	ValueSerde string `json:"value_serde"`
	Tasks      int32  `json:"tasks,omitempty"`
	WindowMs   int64  `json:"window_size_ms,omitempty"`
	// Global marks a global table's store: every node holds all of it
	// and answers from its own copy.
	Global bool `json:"global,omitempty"`
}

func (a *App) httpStores(w http.ResponseWriter, r *http.Request) {
	running := a.queryReady() == nil
	out := []storeInfo{}
	sts := a.topo.Subtopologies
	if g := a.topo.GlobalSubtopology(); g != nil {
		sts = append(slices.Clip(sts), g)
	}
	for _, st := range sts {
		for _, spec := range st.Stores {
			si := storeInfo{Name: spec.Name, Kind: spec.Kind.String(), KeySerde: serdeKind(spec.KeySerde), ValueSerde: serdeKind(spec.ValueSerde), WindowMs: spec.WindowSize.Milliseconds()}
			switch {
			case spec.Global:
				si.Global = true
			case running:
				si.Tasks = a.layout.TaskCount(st.ID)
			}
			out = append(out, si)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"stores": out})
}

type getAnswer struct {
	Store string `json:"store"`
	gwEntry
	Error   string `json:"error,omitempty"`
	Node    string `json:"node"`
	Epoch   int64  `json:"epoch"`
	Standby *bool  `json:"standby,omitempty"`
	Lag     *int64 `json:"lag,omitempty"`
}

func (a *App) httpGet(w http.ResponseWriter, r *http.Request) {
	s, herr := a.gwStore(r.PathValue("store"))
	if herr != nil {
		herr.write(w)
		return
	}
	q := r.URL.Query()
	kb, herr := s.keyOf(q, r.PathValue("key"))
	if herr == nil && s.spec.Kind != topology.KindKeyValue {
		herr = badRequest("store %q is a %s store: read it with /v1/stores/%s/windows/{key}", s.spec.Name, s.spec.Kind, s.spec.Name)
	}
	opts, stale, herr2 := queryOptions(q)
	if herr == nil {
		herr = herr2
	}
	if herr == nil {
		herr = a.queryReady()
	}
	if herr != nil {
		herr.write(w)
		return
	}
	v, found, meta, err := s.reader.GetWithMeta(r.Context(), kb, opts...)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	ans := getAnswer{Store: s.spec.Name, Node: meta.Node, Epoch: meta.Epoch}
	ans.Key, ans.KeyB64 = render(s.keyJS, kb)
	if stale {
		ans.Standby, ans.Lag = &meta.Standby, &meta.Lag
	}
	if !found {
		ans.Error = "key not found"
		writeJSON(w, http.StatusNotFound, ans)
		return
	}
	ans.Value, ans.ValueB64 = render(s.valJS, v)
	writeJSON(w, http.StatusOK, ans)
}

type scanKind int

const (
	scanRange scanKind = iota
	scanPrefix
	scanAll
)

// scanBounds reads a scan's [from, to) in serialized keys (nil: open).
func (s *gwStore) scanBounds(kind scanKind, q url.Values) (from, to []byte, herr *httpError) {
	switch kind {
	case scanRange:
		if from, _, herr = s.keyParam(q, "from"); herr != nil {
			return nil, nil, herr
		}
		last, ok, herr := s.keyParam(q, "to")
		if herr != nil {
			return nil, nil, herr
		}
		if ok {
			to = append(append([]byte(nil), last...), 0) // to included: up to the first key after it
			if bytes.Compare(from, to) >= 0 {
				return nil, nil, badRequest("from is after to: ranges are in the order of serialized keys (bytewise)")
			}
		}
		return from, to, nil
	case scanPrefix:
		var p []byte
		switch {
		case q.Has("prefix") && q.Has("prefix_b64"):
			return nil, nil, badRequest("give prefix or prefix_b64, not both")
		case q.Has("prefix_b64"):
			b, err := topology.DecodeBase64(q.Get("prefix_b64"))
			if err != nil {
				return nil, nil, badRequest("prefix_b64: %v", err)
			}
			p = b
		case q.Has("prefix"):
			p = []byte(q.Get("prefix"))
		default:
			return nil, nil, badRequest("prefix or prefix_b64 is required")
		}
		return p, prefixEnd(p), nil
	}
	return nil, nil, nil
}

type scanAnswer struct {
	Store   string    `json:"store"`
	Entries []gwEntry `json:"entries"`
	Next    string    `json:"next,omitempty"`
}

// httpScan serves range, prefix and all: a page of at most limit entries
// merged from every task by the paged scan (StoreReader.scanPages), which
// holds a page per task, never the whole store.
func (a *App) httpScan(kind scanKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, herr := a.gwStore(r.PathValue("store"))
		if herr != nil {
			herr.write(w)
			return
		}
		q := r.URL.Query()
		from, to, limit, opts, herr := s.scanParams(kind, q)
		if herr == nil {
			herr = a.queryReady()
		}
		if herr != nil {
			herr.write(w)
			return
		}
		ans := scanAnswer{Store: s.spec.Name, Entries: make([]gwEntry, 0, min(limit, 256))}
		for p, err := range s.reader.scanPages(r.Context(), from, to, min(limit+1, defaultHTTPLimit), opts...) {
			if err != nil {
				writeQueryError(w, err)
				return
			}
			if len(ans.Entries) == limit {
				ans.Next = base64.RawURLEncoding.EncodeToString(p.Key)
				break
			}
			ans.Entries = append(ans.Entries, s.entry(p.Key, p.Value))
		}
		writeJSON(w, http.StatusOK, ans)
	}
}

// scanParams reads a scan's parameters: its bounds, moved on to the
// cursor of an earlier page, the page size and max_lag.
func (s *gwStore) scanParams(kind scanKind, q url.Values) (from, to []byte, limit int, opts []QueryOption, herr *httpError) {
	if s.spec.Kind != topology.KindKeyValue {
		return nil, nil, 0, nil, badRequest("store %q is a %s store: read it with /v1/stores/%s/windows/{key}", s.spec.Name, s.spec.Kind, s.spec.Name)
	}
	if from, to, herr = s.scanBounds(kind, q); herr != nil {
		return
	}
	if limit, herr = parseLimit(q); herr != nil {
		return
	}
	if q.Has("cursor") {
		c, err := base64.RawURLEncoding.DecodeString(q.Get("cursor"))
		if err != nil {
			return nil, nil, 0, nil, badRequest("cursor: not a cursor this gateway gave")
		}
		if bytes.Compare(c, from) < 0 || (to != nil && bytes.Compare(c, to) >= 0) {
			return nil, nil, 0, nil, badRequest("cursor: outside the scan's keys")
		}
		from = c
	}
	opts, _, herr = queryOptions(q)
	return
}

type windowEntry struct {
	gwEntry
	Start     int64 `json:"start"`
	End       int64 `json:"end"`
	Timestamp int64 `json:"timestamp"`
}

func (a *App) httpWindows(w http.ResponseWriter, r *http.Request) {
	s, herr := a.gwStore(r.PathValue("store"))
	if herr != nil {
		herr.write(w)
		return
	}
	q := r.URL.Query()
	kb, from, to, size, opts, herr := s.windowParams(q, r.PathValue("key"))
	if herr == nil {
		herr = a.queryReady()
	}
	if herr != nil {
		herr.write(w)
		return
	}
	ws := &WindowStoreReader[[]byte, []byte]{r: s.reader, size: size}
	got, err := ws.Fetch(r.Context(), kb, from, to, opts...)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	out := make([]windowEntry, len(got))
	for i, wv := range got {
		out[i] = windowEntry{gwEntry: s.entry(kb, wv.Value), Start: wv.Key.Window.Start, End: wv.Key.Window.End, Timestamp: wv.Timestamp}
	}
	writeJSON(w, http.StatusOK, map[string]any{"store": s.spec.Name, "windows": out})
}

// windowParams reads a window fetch's key, time bounds, window size and
// max_lag.
func (s *gwStore) windowParams(q url.Values, pathKey string) (kb []byte, from, to, size int64, opts []QueryOption, herr *httpError) {
	switch s.spec.Kind {
	case topology.KindWindow:
		size = s.spec.WindowSize.Milliseconds()
		if q.Has("size") {
			n, err := strconv.ParseInt(q.Get("size"), 10, 64)
			if err != nil || n <= 0 {
				herr = badRequest("size: want the window size in milliseconds (> 0), got %q", q.Get("size"))
				return
			}
			size = n
		}
		if size <= 0 {
			herr = badRequest("store %q: the topology does not say its window size: give size=<milliseconds>", s.spec.Name)
			return
		}
	case topology.KindSession:
	default:
		herr = badRequest("store %q is a %s store, not a window or session store: read it with /v1/stores/%s/keys/{key}", s.spec.Name, s.spec.Kind, s.spec.Name)
		return
	}
	if kb, herr = s.keyOf(q, pathKey); herr != nil {
		return
	}
	if from, herr = parseMillis(q, "from", 0); herr != nil {
		return
	}
	if to, herr = parseMillis(q, "to", math.MaxInt64); herr != nil {
		return
	}
	if from > to {
		herr = badRequest("from (%d) is after to (%d)", from, to)
		return
	}
	opts, _, herr = queryOptions(q)
	return
}

type keyMetaAnswer struct {
	Store     string   `json:"store"`
	Task      string   `json:"task"`
	Partition int32    `json:"partition"`
	Active    string   `json:"active"`
	Standbys  []string `json:"standbys"`
	Epoch     int64    `json:"epoch"`
}

func (a *App) httpKeyMetadata(w http.ResponseWriter, r *http.Request) {
	s, herr := a.gwStore(r.PathValue("store"))
	if herr != nil {
		herr.write(w)
		return
	}
	kb, herr := s.keyOf(r.URL.Query(), r.PathValue("key"))
	if herr == nil && s.spec.Global {
		herr = badRequest("store %q is a global table's store: every node holds all of it", s.spec.Name)
	}
	if herr == nil {
		herr = a.queryReady()
	}
	if herr != nil {
		herr.write(w)
		return
	}
	md, err := a.KeyMetadataBytes(s.spec.Name, kb)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, keyMetaAnswer{Store: md.Store, Task: md.Task.String(), Partition: md.Partition, Active: md.Active, Standbys: append([]string{}, md.Standbys...), Epoch: md.Epoch})
}
