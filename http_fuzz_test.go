package eddy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy/topology"
)

type rawSerde struct{}

func (rawSerde) Serialize(_ string, b []byte) ([]byte, error)   { return b, nil }
func (rawSerde) Deserialize(_ string, b []byte) ([]byte, error) { return b, nil }

// FuzzHTTPGatewayParams sends any path and query to the gateway of an App
// that is not started: nothing panics, and every answer is a JSON error, a
// 4xx for a bad request, or 503 "not started" for a good one (a redirect
// where the mux cleans the path).
func FuzzHTTPGatewayParams(f *testing.F) {
	b := topology.NewBuilder()
	topology.Table(b, "t-str", topology.String(), topology.Int64(), topology.Named("str"))
	topology.Table(b, "t-int", topology.Int64(), topology.JSON[map[string]any](), topology.Named("int"))
	topology.Table(b, "t-f", topology.Float64(), topology.Bytes(), topology.Named("float"))
	topology.Table(b, "t-raw", topology.Serde[[]byte](rawSerde{}), topology.Int32(), topology.Named("raw"))
	ev := topology.Stream(b, "t-ev", topology.String(), topology.Bytes())
	topology.WindowedCount(ev.GroupByKey().WindowedBy(topology.TumblingWindows(10*time.Second, 0)), topology.Named("win"))
	topology.SessionCount(ev.GroupByKey().WindowedBySession(topology.SessionWindowsOf(time.Minute, 0)), topology.Named("sess"))
	topo, err := b.Build()
	if err != nil {
		f.Fatal(err)
	}
	app, err := New(topo, WithBrokers("127.0.0.1:1"), WithApplicationID("fuzz"), WithHTTPToken("tok"))
	if err != nil {
		f.Fatal(err)
	}
	h := app.HTTPHandler()
	for _, s := range []struct{ path, query string }{
		{"stores", ""},
		{"stores/str/keys/word", ""},
		{"stores/str/keys/", "key_b64=AAEC"},
		{"stores/int/keys/-42", "max_lag=3"},
		{"stores/int/keys/9223372036854775808", ""},
		{"stores/float/keys/1e400", ""},
		{"stores/float/keys/NaN", ""},
		{"stores/raw/keys/x", ""},
		{"stores/raw/keys/_", "key_b64=_-8"},
		{"stores/str/range", "from=a&to=b&limit=10"},
		{"stores/str/range", "from=b&to=a"},
		{"stores/int/range", "from_b64=AA&to=7&cursor=AAAAAAAAAAE"},
		{"stores/str/prefix", "prefix=ab&limit=10001"},
		{"stores/str/prefix", "prefix_b64=%FF%FF"},
		{"stores/str/all", "limit=-1&cursor=%00"},
		{"stores/win/windows/k", "from=0&to=99"},
		{"stores/win/windows/k", "size=abc"},
		{"stores/sess/windows/k", "from=9223372036854775807"},
		{"stores/str/windows/k", ""},
		{"keys/int/12/metadata", ""},
		{"keys/str/%2F/metadata", "key_b64=="},
		{"stores/%zz", ""},
		{"../../etc/passwd", ""},
	} {
		f.Add(s.path, s.query)
	}
	f.Fuzz(func(t *testing.T, path, query string) {
		req, err := http.NewRequest("GET", "http://node/v1/"+path+"?"+query, nil)
		if err != nil {
			return // not a URL a client could send
		}
		req.Header.Set("Authorization", "Bearer tok")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch c := rec.Code; {
		case c == http.StatusOK && req.URL.Path == "/v1/stores":
			return // the list of stores needs no running App
		case c == http.StatusMovedPermanently || c == http.StatusTemporaryRedirect || c == http.StatusPermanentRedirect:
			return
		case c >= 400 && c < 500:
		case c == http.StatusServiceUnavailable:
			if !strings.Contains(rec.Body.String(), "not started") {
				t.Fatalf("%s?%s: 503 %s", path, query, rec.Body)
			}
		default:
			t.Fatalf("%s?%s: status %d %s", path, query, c, rec.Body)
		}
		var e struct {
			Error string `json:"error"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("%s?%s: %d, not a JSON error: %s", path, query, rec.Code, rec.Body)
		}
	})
}

// TestHTTPQueryErrorStatus checks the statuses of failed queries: 503 with
// Retry-After while no owner answers, 502 when the owner refused.
func TestHTTPQueryErrorStatus(t *testing.T) {
	for _, c := range []struct {
		err        error
		status     int
		retryAfter bool
	}{
		{fmt.Errorf("%w: store %q", ErrQueryUnavailable, "s"), http.StatusServiceUnavailable, true},
		{fmt.Errorf("%w by node n: FAILED: disk", ErrQueryRefused), http.StatusBadGateway, false},
		{errors.New("eddy: store \"s\": deserialize value: bad"), http.StatusInternalServerError, false},
	} {
		rec := httptest.NewRecorder()
		writeQueryError(rec, c.err)
		var e struct {
			Error string `json:"error"`
		}
		if rec.Code != c.status || (rec.Header().Get("Retry-After") != "") != c.retryAfter ||
			json.Unmarshal(rec.Body.Bytes(), &e) != nil || e.Error != c.err.Error() {
			t.Errorf("%v: %d %q %s", c.err, rec.Code, rec.Header().Get("Retry-After"), rec.Body)
		}
	}
}
