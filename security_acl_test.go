package eddy_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/internal/kafkatest"
	"github.com/twmb/franz-go/pkg/kadm"
)

// TestSecureACLErrors runs the word count as alice with every right it
// needs but one, for each right: the App must stop by itself, soon, with
// an error that names the resource, the operation and the kafka-acls
// command that grants it.
func TestSecureACLErrors(t *testing.T) {
	s := kafkatest.Secure(t)
	for _, tc := range []struct {
		name string
		miss func(app, in, out string) right // the right not granted
		want func(app, in, out string) []string
		// describe grants Describe on the resource of miss: the App gets
		// past its start and is refused when it fetches or produces.
		describe bool
	}{
		{"read input, describe granted",
			func(app, in, out string) right { return right{"topic", in, false, 0} },
			func(app, in, out string) []string {
				return []string{"topic " + in, "--operation Read --topic " + in}
			}, true},
		{"read input",
			func(app, in, out string) right { return right{"topic", in, false, 0} },
			func(app, in, out string) []string {
				return []string{"topic " + in, "Read", "--operation Read --topic " + in}
			}, false},
		{"write output",
			func(app, in, out string) right { return right{"topic", out, false, 0} },
			func(app, in, out string) []string {
				return []string{"topic " + out, "Write", "--operation Write --topic " + out}
			}, false},
		// Under exactly-once the refusal comes back for the whole
		// transaction (AddPartitionsToTxn), on the changelog's records as
		// well as the output's: the error must still name the output.
		{"write output, describe granted",
			func(app, in, out string) right { return right{"topic", out, false, 0} },
			func(app, in, out string) []string {
				return []string{"topic " + out, "Write", "--operation Write --topic " + out}
			}, true},
		{"consumer group",
			func(app, in, out string) right { return right{"group", app, false, 0} },
			func(app, in, out string) []string {
				return []string{"group " + app, "--operation Read --group " + app}
			}, false},
		{"transactional id",
			func(app, in, out string) right { return right{"transactional-id", app + "-", true, 0} },
			func(app, in, out string) []string {
				return []string{"transactional-id", "--operation Write --transactional-id " + app + "- --resource-pattern-type prefixed"}
			}, false},
		{"create internal topics",
			func(app, in, out string) right { return right{"topic", app + "-", true, kadm.OpCreate} },
			func(app, in, out string) []string {
				return []string{"Create", "--operation Create --topic " + app + "- --resource-pattern-type prefixed"}
			}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			adm, cl := adminProducer(t, s)
			r := newSecureRun(t, "sec-acl")
			r.prepare(t, adm, cl)
			miss := tc.miss(r.app, r.in, r.out)
			var rights []right
			for _, x := range appRights(r.app, r.in, r.out) {
				switch {
				case x.kind != miss.kind || x.name != miss.name:
				case miss.op == 0: // every operation on that resource
					continue
				case x.op == miss.op:
					continue
				}
				rights = append(rights, x)
			}
			if tc.describe {
				rights = append(rights, right{miss.kind, miss.name, miss.prefixed, kadm.OpDescribe})
			}
			grant(t, adm, "User:alice", rights)
			var logs syncBuffer
			app := r.newApp(t, &logs, eddy.WithBrokers(s.SASLSSL), eddy.WithTLSFiles(s.CA, "", ""),
				eddy.WithSASL(eddy.SASLScramSHA256, "alice", s.Password(t, "alice")))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			err := app.Run(ctx)
			if err == nil {
				var auth []string
				for _, l := range strings.Split(logs.String(), "\n") {
					if strings.Contains(strings.ToLower(l), "authoriz") || strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
						auth = append(auth, l)
					}
				}
				t.Fatalf("Run returned nil after %v: the App did not stop on its own; its log on authorization:\n%s", time.Since(start), strings.Join(auth, "\n"))
			}
			msg := err.Error()
			for _, w := range append(tc.want(r.app, r.in, r.out), "kafka-acls.sh --bootstrap-server "+s.SASLSSL, "--allow-principal User:alice") {
				if !strings.Contains(msg, w) {
					t.Errorf("the error does not say %q:\n%s", w, msg)
				}
			}
			t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
		})
	}
}
