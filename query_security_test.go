package eddy_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/actors/querypb"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/internal/testcerts"
)

// One process runs one protoactor remote, so these tests run the nodes as
// processes of their own: the test binary again, with secNodeEnv saying
// what to be. The test process only starts them and reads what they print.
const secNodeEnv = "EDDY_TEST_REMOTESEC_NODE"

// secNode is what a helper process is to do.
type secNode struct {
	Role  string // "server" or "client"
	Dir   string // where the PEM files are
	Cert  string // the node's certificate: "node" (CA 1), "other" (CA 2); "": no TLS
	Token string

	// server: the word count to run, and the word to tell the client about
	Brokers              []string
	AppID, Input, Output string
	Word                 string
	// Others: tokens for more Apps the server tries to start in its
	// process after its own ("" for none); it prints their errors.
	Others []string

	// client: the query actor and the request's task
	Addr, PID              string
	Subtopology, Partition int32
}

// secResult is what a client helper prints.
type secResult struct {
	Status string
	Found  bool
	Value  []byte
	Err    string
}

// TestRemoteSecurityNode is the helper process; it skips in a normal run.
func TestRemoteSecurityNode(t *testing.T) {
	spec := os.Getenv(secNodeEnv)
	if spec == "" {
		t.Skip("helper process of TestRemoteQuery* security tests")
	}
	var n secNode
	if err := json.Unmarshal([]byte(spec), &n); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch n.Role {
	case "server":
		runSecServer(t, n, log)
	case "client":
		runSecClient(t, n, log)
	}
}

func runSecServer(t *testing.T, n secNode, log *slog.Logger) {
	topo, err := wordcount.Topology(n.Input, n.Output)
	if err != nil {
		t.Fatal(err)
	}
	opts := []eddy.Option{eddy.WithBrokers(n.Brokers...), eddy.WithApplicationID(n.AppID), eddy.WithStateDir(t.TempDir()),
		eddy.WithLogger(log), eddy.WithCommitInterval(200 * time.Millisecond)}
	if n.Cert != "" {
		server, client := secTLS(t, n.Dir, n.Cert)
		opts = append(opts, eddy.WithRemoteTLS(server, client))
	}
	if n.Token != "" {
		opts = append(opts, eddy.WithRemoteToken(n.Token))
	}
	app, err := eddy.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := app.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tok := range n.Others {
		other, err := eddy.New(topo, append(opts[:5:5], eddy.WithApplicationID(n.AppID+"-other"), eddy.WithStateDir(t.TempDir()), eddy.WithRemoteToken(tok))...)
		if err != nil {
			t.Fatal(err)
		}
		err = other.Start(ctx)
		other.Close()
		out, _ := json.Marshal(fmt.Sprint(err))
		fmt.Printf("OTHER %s\n", out)
	}
	md, err := eddy.KeyMetadata(app, wordcount.StoreName, n.Word)
	if err != nil {
		t.Fatal(err)
	}
	ready, _ := json.Marshal(secNode{Addr: app.RemoteAddr(), PID: app.QueryPID().Id, Subtopology: int32(md.Task.Subtopology), Partition: md.Task.Partition})
	fmt.Printf("READY %s\n", ready)
	io.Copy(io.Discard, os.Stdin) // serve until the test closes stdin
}

func runSecClient(t *testing.T, n secNode, log *slog.Logger) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return log }))
	var server, client *tls.Config
	if n.Cert != "" {
		server, client = secTLS(t, n.Dir, n.Cert)
	}
	opts, err := eddy.RemoteSecurityOptions(server, client, n.Token)
	if err != nil {
		t.Fatal(err)
	}
	r := remote.NewRemote(sys, remote.Configure("127.0.0.1", 0, opts...))
	r.Start()
	defer r.Shutdown(false)
	req := &querypb.StoreRequest{Protocol: eddy.QueryProtocol, Store: wordcount.StoreName, Subtopology: n.Subtopology,
		Partition: n.Partition, Get: true, Key: []byte(n.Word)}
	var res secResult
	ans, err := sys.Root.RequestFuture(actor.NewPID(n.Addr, n.PID), req, 4*time.Second).Result()
	if resp, ok := ans.(*querypb.StoreResponse); err == nil && ok {
		res = secResult{Status: resp.Status.String(), Found: resp.Found, Value: resp.Value, Err: resp.Error}
	} else {
		res.Err = fmt.Sprintf("%v (answer %T)", err, ans)
	}
	out, _ := json.Marshal(res)
	fmt.Printf("RESULT %s\n", out)
}

// secProcess starts the test binary as the helper node n; its stdout lines
// go to lines, its stderr to the returned buffer.
func secProcess(t *testing.T, n secNode, stdin io.Reader) (*exec.Cmd, <-chan string, *syncBuffer) {
	t.Helper()
	spec, _ := json.Marshal(n)
	cmd := exec.Command(os.Args[0], "-test.run=^TestRemoteSecurityNode$", "-test.count=1")
	cmd.Env = append(os.Environ(), secNodeEnv+"="+string(spec))
	cmd.Stdin = stdin
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return cmd, lines, stderr
}

// lineWith waits for the line starting with prefix and returns the rest.
func lineWith(t *testing.T, lines <-chan string, prefix string, d time.Duration, stderr *syncBuffer) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("helper ended without %q; its log:\n%s", prefix, stderr)
			}
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return rest
			}
		case <-deadline:
			t.Fatalf("no %q from the helper within %v; its log:\n%s", prefix, d, stderr)
		}
	}
}

// startSecServer runs a word count node over text in a process of its own
// and returns where its query actor is, the word's task, and its log.
func startSecServer(t *testing.T, n secNode, text string) (secNode, *syncBuffer) {
	t.Helper()
	e := newWCEnv(t, realOrEmbedded(t))
	e.produce(t, text)
	n.Role, n.Brokers, n.AppID, n.Input, n.Output = "server", e.brokers, e.appID, e.input, e.output
	stdin, closeStdin := io.Pipe()
	cmd, lines, stderr := secProcess(t, n, stdin)
	t.Cleanup(func() {
		closeStdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	for _, tok := range n.Others {
		var msg string
		if err := json.Unmarshal([]byte(lineWith(t, lines, "OTHER ", 2*time.Minute, stderr)), &msg); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(msg, "other security settings (token)") {
			t.Fatalf("a second App of the process with token %q started: %s", tok, msg)
		}
		for _, s := range []string{tok, n.Token} {
			if s != "" && strings.Contains(msg, s) {
				t.Fatalf("the error shows a token: %s", msg)
			}
		}
	}
	var at secNode
	if err := json.Unmarshal([]byte(lineWith(t, lines, "READY ", 2*time.Minute, stderr)), &at); err != nil {
		t.Fatal(err)
	}
	return at, stderr
}

// askSec runs a client helper that sends the word's StoreRequest to the
// server's query actor, and returns what it got and its log.
func askSec(t *testing.T, n secNode, at secNode) (secResult, string) {
	t.Helper()
	n.Role, n.Addr, n.PID, n.Subtopology, n.Partition = "client", at.Addr, at.PID, at.Subtopology, at.Partition
	cmd, lines, stderr := secProcess(t, n, nil)
	var res secResult
	if err := json.Unmarshal([]byte(lineWith(t, lines, "RESULT ", time.Minute, stderr)), &res); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("client helper: %v; its log:\n%s", err, stderr)
	}
	return res, stderr.String()
}

// checkAnswer asserts that res is the word's count.
func checkAnswer(t *testing.T, res secResult, want int64) {
	t.Helper()
	if res.Status != "OK" || !res.Found || len(res.Value) != 8 || int64(binary.BigEndian.Uint64(res.Value)) != want {
		t.Fatalf("answer %+v, want OK with count %d", res, want)
	}
}

// checkRefused asserts that the request got no answer, that the client's
// transport saw the refusal, and that the server logged it.
func checkRefused(t *testing.T, res secResult, clientLog string, serverLog *syncBuffer, clientSees, serverSays string) {
	t.Helper()
	if res.Status != "" || !strings.Contains(res.Err, "timeout") {
		t.Fatalf("answer %+v, want none (a timeout)", res)
	}
	if !strings.Contains(clientLog, clientSees) {
		t.Fatalf("the client's log does not say %q:\n%s", clientSees, clientLog)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(serverLog.String(), serverSays) {
		if time.Now().After(deadline) {
			t.Fatalf("the server's log does not say %q:\n%s", serverSays, serverLog)
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a condition with a deadline
	}
}

func noSecrets(t *testing.T, logs []string, secrets ...string) {
	t.Helper()
	for _, l := range logs {
		for _, s := range secrets {
			if strings.Contains(l, s) {
				t.Fatalf("a log holds the token %q:\n%s", s, l)
			}
		}
	}
}

const secWord = "kafka"

// TestRemoteQueryToken: a node with WithRemoteToken answers a StoreRequest
// from another process carrying the token, and refuses the stream of one
// with a wrong token or none; the tokens appear in no log. A second App in
// the server's process asking for other settings fails to start.
func TestRemoteQueryToken(t *testing.T) {
	text := randomText(29, 400)
	want := independentCount(text)[secWord]
	const token, wrong = "s3cret-token-9f2c1e", "not-the-token-77aa01"
	// The server's process also refuses Apps asking for another token, or
	// none, on its remote.
	at, serverLog := startSecServer(t, secNode{Token: token, Word: secWord, Others: []string{"another-token-3b", ""}}, text)

	res, clientLog := askSec(t, secNode{Token: token, Word: secWord}, at)
	checkAnswer(t, res, want)
	logs := []string{clientLog}

	res, clientLog = askSec(t, secNode{Token: wrong, Word: secWord}, at)
	checkRefused(t, res, clientLog, serverLog, "Unauthenticated desc = eddy: remote query stream refused: wrong token", "reason=\"wrong token\"")
	logs = append(logs, clientLog)

	res, clientLog = askSec(t, secNode{Word: secWord}, at)
	checkRefused(t, res, clientLog, serverLog, "Unauthenticated desc = eddy: remote query stream refused: no token", "reason=\"no token\"")
	logs = append(logs, clientLog, serverLog.String())
	noSecrets(t, logs, token, wrong)
}

// TestRemoteQueryMutualTLS: a node with WithRemoteTLS requiring client
// certificates answers a client whose certificate its CA signed, and
// refuses the connection of one whose certificate another CA signed.
func TestRemoteQueryMutualTLS(t *testing.T) {
	dir := t.TempDir()
	writeSecCerts(t, dir)
	text := randomText(31, 400)
	want := independentCount(text)[secWord]
	const token = "mtls-and-token-41d9"
	at, serverLog := startSecServer(t, secNode{Dir: dir, Cert: "node", Token: token, Word: secWord}, text)

	res, clientLog := askSec(t, secNode{Dir: dir, Cert: "node", Token: token, Word: secWord}, at)
	checkAnswer(t, res, want)
	logs := []string{clientLog}

	res, clientLog = askSec(t, secNode{Dir: dir, Cert: "other", Token: token, Word: secWord}, at)
	checkRefused(t, res, clientLog, serverLog, "failed to connect", "certificate signed by unknown authority")
	if !strings.Contains(serverLog.String(), "refused a remote query connection") {
		t.Fatalf("the server's log does not say it refused the connection:\n%s", serverLog)
	}
	logs = append(logs, clientLog, serverLog.String())
	noSecrets(t, logs, token)
}

// writeSecCerts makes two CAs and a certificate of each for 127.0.0.1,
// good for both ends of a TLS connection, in dir: node/ca.crt,
// node/node.crt, node/node.key, and the same for "other".
func writeSecCerts(t *testing.T, dir string) {
	t.Helper()
	for _, name := range []string{"node", "other"} {
		d := filepath.Join(dir, name)
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		ca := testcerts.NewCA(t, "eddy test CA "+name)
		ca.WriteCA(t, d)
		testcerts.WritePEM(t, d, name, ca.Node(t, "eddy node "+name))
	}
}

// secTLS is the server and client TLS config of a node with certificate
// name: it presents its certificate both ways, requires and checks client
// certificates against its own CA, and trusts CA "node" for the servers it
// dials.
func secTLS(t *testing.T, dir, name string) (server, client *tls.Config) {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, name, name+".crt"), filepath.Join(dir, name, name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	pool := func(ca string) *x509.CertPool {
		b, err := os.ReadFile(filepath.Join(dir, ca, "ca.crt"))
		if err != nil {
			t.Fatal(err)
		}
		p := x509.NewCertPool()
		if !p.AppendCertsFromPEM(b) {
			t.Fatalf("no certificate in %s/ca.crt", ca)
		}
		return p
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool(name), MinVersion: tls.VersionTLS12}
	// The client presents its certificate whatever CAs the server names, as
	// an intruder would, so that the server's check is what refuses it.
	present := func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cert, nil }
	client = &tls.Config{GetClientCertificate: present, RootCAs: pool("node"), MinVersion: tls.VersionTLS12}
	return server, client
}
