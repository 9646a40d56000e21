package eddy_test

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/windowcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type profile struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

// point is a key with a serde of its own, which the gateway cannot read
// from text nor show as JSON.
type point struct{ X, Y int32 }

type pointSerde struct{}

func (pointSerde) Serialize(_ string, p point) ([]byte, error) {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, uint32(p.X)), uint32(p.Y)), nil
}

func (pointSerde) Deserialize(_ string, b []byte) (point, error) {
	if len(b) != 8 {
		return point{}, fmt.Errorf("point: want 8 bytes, got %d", len(b))
	}
	return point{int32(binary.BigEndian.Uint32(b)), int32(binary.BigEndian.Uint32(b[4:]))}, nil
}

// gatewayEnv is a standalone App with three stores of different serdes:
// profiles (int64 -> JSON), places (point -> string), a windowed count
// (string -> int64 per 10 s window) and a global table, regions (string ->
// string).
type gatewayEnv struct {
	app                               *eddy.App
	profiles, places, events, regions string
	cl                                *kgo.Client
}

const gwWindow = 10 * time.Second

func newGatewayEnv(t *testing.T, ctx context.Context, opts ...eddy.Option) *gatewayEnv {
	t.Helper()
	brokers := realOrEmbedded(t)
	name := kafkatest.UniqueName(t, "gw")
	e := &gatewayEnv{profiles: name + "-profiles", places: name + "-places", events: name + "-events", regions: name + "-regions", cl: newClient(t, brokers)}
	if _, err := kadm.NewClient(e.cl).CreateTopics(ctx, 2, -1, nil, e.profiles, e.places, e.events, e.regions, name+"-out"); err != nil {
		t.Fatal(err)
	}
	b := topology.NewBuilder()
	topology.Table(b, e.profiles, topology.Int64(), topology.JSON[profile](), topology.Named("profiles"))
	topology.Table(b, e.places, topology.Serde[point](pointSerde{}), topology.String(), topology.Named("places"))
	topology.GlobalTable(b, e.regions, topology.String(), topology.String(), topology.Named("regions"))
	ev := topology.Stream(b, e.events, topology.String(), topology.Bytes())
	topology.WindowedCount(ev.GroupByKey().WindowedBy(topology.TumblingWindows(gwWindow, time.Hour)), topology.Named(windowcount.StoreName)).ToStream().To(name + "-out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	all := append([]eddy.Option{eddy.WithBrokers(brokers...), eddy.WithApplicationID(name), eddy.WithStateDir(t.TempDir()), eddy.WithStandalone()}, opts...)
	if e.app, err = eddy.New(topo, all...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.app.Close() })
	return e
}

func (e *gatewayEnv) produce(t *testing.T, ctx context.Context, rs ...*kgo.Record) {
	t.Helper()
	if err := e.cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func (e *gatewayEnv) start(t *testing.T, ctx context.Context) {
	t.Helper()
	if err := e.app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// status GETs u and returns the status and the "error" of the answer.
func status(t *testing.T, cl *http.Client, u string) (int, string) {
	t.Helper()
	var m struct {
		Error string `json:"error"`
	}
	return getJSON(t, cl, u, &m), m.Error
}

// TestHTTPGatewaySerdesWindowsAndErrors reads stores of JSON values, of a
// custom key serde and a windowed count through the gateway, compares them
// with what was produced, and checks each kind of bad request.
func TestHTTPGatewaySerdesWindowsAndErrors(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := newGatewayEnv(t, ctx, eddy.WithQueryTimeout(time.Second))
	js := topology.JSON[profile]()
	want := map[int64]profile{-5: {"neg", 1}, 1: {"ann", 30}, 2: {"bob", 40}, 3: {"cy", 50}, 1 << 40: {"big", 60}}
	for k, p := range want {
		kb, _ := topology.Int64().Serialize("", k)
		vb, _ := js.Serialize("", p)
		e.produce(t, ctx, &kgo.Record{Topic: e.profiles, Key: kb, Value: vb})
	}
	pk, _ := pointSerde{}.Serialize("", point{3, -4})
	e.produce(t, ctx, &kgo.Record{Topic: e.places, Key: pk, Value: []byte("home")})
	e.produce(t, ctx, &kgo.Record{Topic: e.regions, Key: []byte("eu"), Value: []byte("Europe")})
	base := time.Now().Add(-time.Hour).UnixMilli() / 10000 * 10000
	rng := rand.New(rand.NewSource(5))
	windows := map[string]map[int64]int64{}
	var evs []*kgo.Record
	for i := 0; i < 500; i++ {
		k := fmt.Sprintf("k%d", rng.Intn(8))
		ts := base + rng.Int63n(90_000)
		evs = append(evs, &kgo.Record{Topic: e.events, Key: []byte(k), Value: []byte("x"), Timestamp: time.UnixMilli(ts)})
		if windows[k] == nil {
			windows[k] = map[int64]int64{}
		}
		windows[k][ts-ts%10000]++
	}
	e.produce(t, ctx, evs...)
	e.start(t, ctx)
	cl := &http.Client{Timeout: 30 * time.Second}
	v1 := "http://" + e.app.HTTPAddr() + "/v1"

	// JSON values under int64 keys, one by one and as a range.
	for k, p := range want {
		var g gwGet
		if st := getJSON(t, cl, fmt.Sprintf("%s/stores/profiles/keys/%d", v1, k), &g); st != http.StatusOK {
			t.Fatalf("profile %d: status %d %s", k, st, g.Error)
		}
		var got profile
		if err := json.Unmarshal(g.Value, &got); err != nil || got != p || string(g.Key) != fmt.Sprint(k) {
			t.Fatalf("profile %d: %s = %s, want %+v", k, g.Key, g.Value, p)
		}
	}
	es, _ := scanPages(t, cl, v1+"/stores/profiles/range?from=1&to=3&limit=2")
	var keys []string
	for _, en := range es {
		keys = append(keys, string(en.Key))
	}
	if fmt.Sprint(keys) != "[1 2 3]" {
		t.Fatalf("profiles 1..3: %v", keys)
	}
	// Any key as base64 of its serialized bytes, in the path's place.
	kb, _ := topology.Int64().Serialize("", 2)
	var g gwGet
	if st := getJSON(t, cl, v1+"/stores/profiles/keys/_?key_b64="+base64.URLEncoding.EncodeToString(kb), &g); st != http.StatusOK || !strings.Contains(string(g.Value), `"bob"`) {
		t.Fatalf("key_b64: %d %+v", st, g)
	}

	// A key serde the gateway cannot read: key_b64 only, shown as base64.
	if st, msg := status(t, cl, v1+"/stores/places/keys/3,-4"); st != http.StatusBadRequest || !strings.Contains(msg, "key_b64") {
		t.Fatalf("custom key serde as text: %d %q", st, msg)
	}
	g = gwGet{}
	if st := getJSON(t, cl, v1+"/stores/places/keys/?key_b64="+base64.StdEncoding.EncodeToString(pk), &g); st != http.StatusOK ||
		g.KeyB64 == nil || *g.KeyB64 != base64.StdEncoding.EncodeToString(pk) || g.Key != nil || string(g.Value) != `"home"` {
		t.Fatalf("custom key serde: %d %+v", st, g)
	}

	// A global table's store: listed as such, answered here.
	var stores struct {
		Stores []map[string]any `json:"stores"`
	}
	if st := getJSON(t, cl, v1+"/stores", &stores); st != http.StatusOK || len(stores.Stores) != 4 {
		t.Fatalf("stores: %d %v", st, stores)
	}
	for _, s := range stores.Stores {
		if (s["name"] == "regions") != (s["global"] == true) || (s["name"] == windowcount.StoreName) != (s["window_size_ms"] == float64(10_000)) {
			t.Fatalf("stores: %v", stores.Stores)
		}
	}
	g = gwGet{}
	if st := getJSON(t, cl, v1+"/stores/regions/keys/eu", &g); st != http.StatusOK || string(g.Value) != `"Europe"` {
		t.Fatalf("global store: %d %+v", st, g)
	}

	// The windowed count equals the one made here from the events.
	from, to := base+20_000, base+60_000
	for k, byStart := range windows {
		var ans struct {
			Windows []struct {
				Key        string
				Value      int64
				Start, End int64
			} `json:"windows"`
		}
		u := fmt.Sprintf("%s/stores/%s/windows/%s?from=%d&to=%d", v1, windowcount.StoreName, k, from, to)
		if st := getJSON(t, cl, u, &ans); st != http.StatusOK {
			t.Fatalf("windows of %s: status %d", k, st)
		}
		var got, exp []string
		for s := from; s <= to; s += 10_000 {
			if n := byStart[s]; n > 0 {
				exp = append(exp, fmt.Sprintf("%s %d-%d:%d", k, s, s+10_000, n))
			}
		}
		for _, w := range ans.Windows {
			got = append(got, fmt.Sprintf("%s %d-%d:%d", w.Key, w.Start, w.End, w.Value))
		}
		if fmt.Sprint(got) != fmt.Sprint(exp) {
			t.Fatalf("windows of %s: %v, want %v", k, got, exp)
		}
	}

	// Bad requests.
	for _, c := range []struct {
		path   string
		status int
		says   string
	}{
		{"/stores/nope/keys/x", 404, "no store"},
		{"/stores/nope/all", 404, "no store"},
		{"/keys/nope/x/metadata", 404, "no store"},
		{"/nothing/here", 404, "no such route"},
		{"/stores/profiles/keys/abc", 400, "integer"},
		{"/stores/profiles/keys/1?max_lag=-1", 400, "max_lag"},
		{"/stores/profiles/keys/1?key_b64=AQ", 400, "not both"},
		{"/stores/profiles/keys/_?key_b64=%25%25", 400, "base64"},
		{"/stores/profiles/range?from=x", 400, "integer"},
		{"/stores/profiles/range?from=3&to=1", 400, "after"},
		{"/stores/profiles/all?limit=0", 400, "limit"},
		{"/stores/profiles/all?limit=10001", 400, "limit"},
		{"/stores/profiles/all?limit=ten", 400, "limit"},
		{"/stores/profiles/all?cursor=!!", 400, "cursor"},
		{"/stores/profiles/range?from=2&cursor=AA", 400, "cursor"},
		{"/stores/profiles/prefix", 400, "prefix"},
		{"/stores/profiles/windows/1", 400, "not a window"},
		{"/stores/" + windowcount.StoreName + "/keys/k1", 400, "windows"},
		{"/stores/" + windowcount.StoreName + "/all", 400, "windows"},
		{"/stores/" + windowcount.StoreName + "/windows/k1?from=x", 400, "from"},
		{"/stores/" + windowcount.StoreName + "/windows/k1?from=9&to=1", 400, "after"},
		{"/stores/" + windowcount.StoreName + "/windows/k1?size=-1", 400, "size"},
		{"/keys/profiles/zz/metadata", 400, "integer"},
		{"/keys/regions/eu/metadata", 400, "global"},
	} {
		st, msg := status(t, cl, v1+c.path)
		if st != c.status || !strings.Contains(msg, c.says) {
			t.Errorf("GET %s: %d %q, want %d saying %q", c.path, st, msg, c.status, c.says)
		}
	}
	resp, err := cl.Post(v1+"/stores", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}

	// A closed App's tasks answer nobody: 503 with Retry-After, through
	// the handler (the server closed with the App).
	if err := e.app.Close(); err != nil {
		t.Fatal(err)
	}
	if e.app.HTTPAddr() != "" {
		if _, err := cl.Get(v1 + "/stores"); err == nil {
			t.Fatal("the HTTP server still answers after Close")
		}
	}
	rec := httptest.NewRecorder()
	e.app.HTTPHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/stores/profiles/keys/1", nil))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a closed App: %d %q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body)
	}
}

// TestHTTPGatewayOff checks that WithoutHTTP serves nothing, that an
// advertised address is the one shown, and that bad HTTP options are
// refused.
func TestHTTPGatewayOff(t *testing.T) {
	topo, err := windowcount.Topology("in", "out", gwWindow, 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := newGatewayEnv(t, ctx, eddy.WithoutHTTP())
	e.start(t, ctx)
	if e.app.HTTPAddr() != "" || e.app.Nodes()[0].HTTPAddr != "" {
		t.Fatalf("an App without HTTP has an HTTP address: %q", e.app.HTTPAddr())
	}
	adv := newGatewayEnv(t, ctx, eddy.WithHTTPAdvertise("gw.example:8443"))
	adv.start(t, ctx)
	if adv.app.HTTPAddr() != "gw.example:8443" || adv.app.Nodes()[0].HTTPAddr != "gw.example:8443" {
		t.Fatalf("advertised HTTP address: %q %+v", adv.app.HTTPAddr(), adv.app.Nodes())
	}
	for _, o := range []eddy.Option{eddy.WithHTTPBind("no-port"), eddy.WithHTTPAdvertise("no-port"), eddy.WithHTTPTLSFiles("cert.pem", "")} {
		if _, err := eddy.New(topo, eddy.WithBrokers("127.0.0.1:1"), eddy.WithApplicationID("x"), o); err == nil {
			t.Fatal("a bad HTTP option must be refused")
		}
	}
}
