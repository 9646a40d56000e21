package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// These tests run against the secured broker of
// internal/kafkatest/securekafka (make test starts it): SASL_SSL with
// SCRAM and PLAIN, SSL with client certificates, and ACLs.

// adminProducer is a client of the super user admin.
func adminProducer(t *testing.T, s *kafkatest.SecureInfo) (*kadm.Client, *kgo.Client) {
	t.Helper()
	opts, err := eddy.KafkaClientOptions(eddy.WithBrokers(s.SASLSSL), eddy.WithTLSFiles(s.CA, "", ""),
		eddy.WithSASL(eddy.SASLScramSHA512, "admin", s.Password(t, "admin")))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl), cl
}

// right is one ACL: an operation on a resource (topic, group, transactional
// id), its name literal or a prefix.
type right struct {
	kind     string // topic, group, transactional-id
	name     string
	prefixed bool
	op       kadm.ACLOperation
}

// appRights are the rights a word count App app needs, reading in and
// writing out.
func appRights(app, in, out string) []right {
	r := []right{
		{"topic", in, false, kadm.OpRead},
		{"topic", out, false, kadm.OpWrite},
		{"topic", out, false, kadm.OpRead}, // not the App's: the test reads the counts back as alice
		{"group", app, false, kadm.OpRead},
		{"transactional-id", app + "-", true, kadm.OpWrite},
	}
	for _, op := range []kadm.ACLOperation{kadm.OpCreate, kadm.OpRead, kadm.OpWrite, kadm.OpDescribe, kadm.OpDescribeConfigs, kadm.OpDelete} {
		r = append(r, right{"topic", app + "-", true, op})
	}
	return r
}

// grant gives principal the rights.
func grant(t *testing.T, adm *kadm.Client, principal string, rights []right) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range rights {
		b := kadm.NewACLs().Allow(principal).AllowHosts().Operations(r.op)
		switch r.kind {
		case "topic":
			b.Topics(r.name)
		case "group":
			b.Groups(r.name)
		case "transactional-id":
			b.TransactionalIDs(r.name)
		}
		if r.prefixed {
			b.ResourcePatternType(kadm.ACLPatternPrefixed)
		} else {
			b.ResourcePatternType(kadm.ACLPatternLiteral)
		}
		res, err := adm.CreateACLs(ctx, b)
		if err == nil {
			for _, x := range res {
				err = errors.Join(err, x.Err)
			}
		}
		if err != nil {
			t.Fatalf("granting %v: %v", r, err)
		}
	}
}

// secureWordCount makes the topics of a word count as admin, produces
// text, and returns the App made with conn (and the common options).
type secureRun struct {
	app, in, out string
	text         string
}

func newSecureRun(t *testing.T, prefix string) secureRun {
	app := kafkatest.UniqueName(t, prefix)
	// Input and output outside the "<app>-" prefix that the App's own
	// topics' ACLs cover.
	return secureRun{app: app, in: "in-" + app, out: "out-" + app,
		text: "to be or not to be\nthat is the question\nto be is to do\n"}
}

// prepare creates in and out (2 partitions each) and writes the text to in,
// as admin.
func (r secureRun) prepare(t *testing.T, adm *kadm.Client, cl *kgo.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := wordcount.EnsureTopics(ctx, adm, 2, r.in, r.out); err != nil {
		t.Fatal(err)
	}
	if err := wordcount.ProduceLines(ctx, cl, r.in, strings.NewReader(r.text)); err != nil {
		t.Fatal(err)
	}
}

func (r secureRun) newApp(t *testing.T, logs io.Writer, opts ...eddy.Option) *eddy.App {
	t.Helper()
	topo, err := wordcount.Topology(r.in, r.out)
	if err != nil {
		t.Fatal(err)
	}
	if logs == nil {
		logs = io.Discard
	}
	base := []eddy.Option{eddy.WithApplicationID(r.app), eddy.WithStateDir(t.TempDir()),
		eddy.WithProcessingGuarantee(eddy.ExactlyOnce), eddy.WithHTTPBind("127.0.0.1:0"),
		eddy.WithLogger(slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))}
	app, err := eddy.New(topo, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { app.Close() })
	return app
}

// check waits until the App processed everything and compares the output's
// counts, read with the App's client options, with the text's.
func (r secureRun) check(t *testing.T, app *eddy.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	counts, err := wordcount.ReadCounts(ctx, nil, r.out, app.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{}
	for _, w := range wordcount.Words(r.text) {
		want[w]++
	}
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Word] = c.Count
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("counts %v, want %v", got, want)
	}
}

// TestSecureWordCountSCRAM runs the word count exactly-once over SASL_SSL
// as alice, a user with only the rights the App needs, for both SCRAM
// mechanisms: every client the App makes (admin, producer, consumers,
// transactional producers, restore, the cluster node's members topic and
// decision log) must carry TLS and SASL, as the broker has no other way in. Alice's password appears in no log line, page or
// metric.
func TestSecureWordCountSCRAM(t *testing.T) {
	s := kafkatest.Secure(t)
	for _, mech := range []string{eddy.SASLScramSHA256, eddy.SASLScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			adm, cl := adminProducer(t, s)
			r := newSecureRun(t, "sec-scram")
			r.prepare(t, adm, cl)
			grant(t, adm, "User:alice", appRights(r.app, r.in, r.out))
			pw := s.Password(t, "alice")
			var logs syncBuffer
			app := r.newApp(t, &logs, eddy.WithBrokers(s.SASLSSL), eddy.WithTLSFiles(s.CA, "", ""),
				eddy.WithSASLPasswordFile(mech, "alice", s.Passwords["alice"]))
			r.check(t, app)
			pages := map[string]string{}
			for _, p := range []string{"/v1/status", "/", "/metrics"} {
				resp, err := http.Get("http://" + app.HTTPAddr() + p)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				pages[p] = string(b)
			}
			if len(pages["/v1/status"]) < 10 {
				t.Fatalf("status JSON: %q", pages["/v1/status"])
			}
			pages["log"] = logs.String()
			pages["Describe"] = app.Topology().Describe()
			pages["fmt"] = fmt.Sprintf("%v %+v %#v", app, app, app.ClientOptions())
			for where, text := range pages {
				if strings.Contains(text, pw) {
					t.Errorf("alice's password appears in %s", where)
				}
			}
			if !strings.Contains(logs.String(), "level=") {
				t.Fatal("the App logged nothing: the log check checks nothing")
			}
		})
	}
}

// TestSecureWordCountTLSClientCert runs the word count over SSL with a
// client certificate alone: the broker maps its CN to the principal
// User:alice.
func TestSecureWordCountTLSClientCert(t *testing.T) {
	s := kafkatest.Secure(t)
	adm, cl := adminProducer(t, s)
	r := newSecureRun(t, "sec-mtls")
	r.prepare(t, adm, cl)
	grant(t, adm, "User:alice", appRights(r.app, r.in, r.out))
	app := r.newApp(t, nil, eddy.WithBrokers(s.SSL), eddy.WithTLSFiles(s.CA, s.Certs["alice"][0], s.Certs["alice"][1]))
	r.check(t, app)
}

// TestSecureWordCountPLAIN runs the word count over SASL_SSL with PLAIN.
func TestSecureWordCountPLAIN(t *testing.T) {
	s := kafkatest.Secure(t)
	adm, cl := adminProducer(t, s)
	r := newSecureRun(t, "sec-plain")
	r.prepare(t, adm, cl)
	grant(t, adm, "User:alice", appRights(r.app, r.in, r.out))
	app := r.newApp(t, nil, eddy.WithBrokers(s.SASLSSL), eddy.WithTLSFiles(s.CA, "", ""),
		eddy.WithSASL(eddy.SASLPlain, "alice", s.Password(t, "alice")))
	r.check(t, app)
}

// TestSecureFailsClearly: a wrong password fails Start with an
// authentication error that names the user and mechanism and holds no
// password, and so does every App missing a part of the security (no SASL,
// no TLS, no client certificate), within a bound, without hanging.
func TestSecureFailsClearly(t *testing.T) {
	s := kafkatest.Secure(t)
	const wrong = "Wrong-Pw-Osprey-4417"
	for _, tc := range []struct {
		name string
		opts []eddy.Option
		want []string // in the error
	}{
		{"wrong password", []eddy.Option{eddy.WithBrokers(s.SASLSSL), eddy.WithTLSFiles(s.CA, "", ""),
			eddy.WithSASL(eddy.SASLScramSHA256, "alice", wrong)}, []string{"authentication", "SCRAM-SHA-256", `SASL user "alice"`}},
		{"no SASL", []eddy.Option{eddy.WithBrokers(s.SASLSSL), eddy.WithTLSFiles(s.CA, "", "")}, nil},
		{"no TLS", []eddy.Option{eddy.WithBrokers(s.SASLSSL), eddy.WithSASL(eddy.SASLScramSHA256, "alice", s.Password(t, "alice"))}, nil},
		{"no client certificate", []eddy.Option{eddy.WithBrokers(s.SSL), eddy.WithTLSFiles(s.CA, "", "")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSecureRun(t, "sec-fail")
			var logs syncBuffer
			app := r.newApp(t, &logs, tc.opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			err := app.Start(ctx)
			if err == nil {
				t.Fatal("Start succeeded")
			}
			if ctx.Err() != nil {
				t.Fatalf("Start took until its deadline (%v): %v", time.Since(start), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), wrong) || strings.Contains(logs.String(), wrong) {
				t.Errorf("the password appears in the error or the log: %v", err)
			}
			t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
		})
	}
}
