// Command actor-query is a program that already runs a protoactor actor
// system and hands it to Eddy (eddy.WithActorSystem): Eddy counts words in
// it, and an actor of the program, knowing nothing of Eddy's Go API, asks
// for a word's count the way any protoactor actor can, local or across
// protoactor remote: it sends a querypb.StoreRequest to the query actor of
// the node that owns the word's task and reads the querypb.StoreResponse.
//
// Only the request's target comes from the App: the task of the key
// (App.KeyMetadataBytes) and the owner's remote address (App.Nodes) with
// its actor name (eddy.QueryActorName). Keys and values are the bytes of
// the store's serdes: the word in UTF-8, the count as an 8-byte big-endian
// long.
//
//	go run ./examples/07-actor-query -input README.md -words kafka,actor,state
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/eddystreams/eddy"
	"github.com/eddystreams/eddy/actors/querypb"
	"github.com/eddystreams/eddy/examples/exampleapp"
	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() { exampleapp.Main("actor-query", run) }

// run is the whole program, given its arguments and where the answers go:
// "word count" per word, 0 for a word never seen.
func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("actor-query", flag.ContinueOnError)
	var (
		partitions = fs.Int("partitions", 4, "partitions of the input and output topics when they are created")
		inputTopic = fs.String("input-topic", "text-lines", "input topic")
		outTopic   = fs.String("output-topic", "word-counts", "output topic")
		inputFile  = fs.String("input", "", "produce each line of this file (- for stdin) to the input topic first")
		words      = fs.String("words", "", "words to ask for once all input is counted, comma-separated (required)")
	)
	common := exampleapp.RegisterFlags(fs, "actor-query")
	if err := exampleapp.Parse(fs, args); err != nil {
		return err
	}
	asked := exampleapp.SplitList(*words)
	if len(asked) == 0 {
		return errors.New("-words: give at least one word")
	}
	topo, err := wordcount.Topology(*inputTopic, *outTopic)
	if err != nil {
		return err
	}

	// The program's own actor system, which Eddy joins.
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.Default().With("component", "actor")
	}))
	defer sys.Shutdown()
	app, cleanup, err := common.NewApp(topo, "actor-query-state-", eddy.WithActorSystem(sys))
	if err != nil {
		return err
	}
	defer cleanup()

	cl, err := kgo.NewClient(app.ClientOptions()...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := wordcount.EnsureTopics(ctx, kadm.NewClient(cl), int32(*partitions), *inputTopic, *outTopic); err != nil {
		return err
	}
	if err := exampleapp.ReadInput(*inputFile, func(r io.Reader) error { return wordcount.ProduceLines(ctx, cl, *inputTopic, r) }); err != nil {
		return err
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	if err := app.WaitIdle(ctx); err != nil {
		return err
	}
	for _, w := range asked {
		w = strings.ToLower(w) // the word count counts lower-case words
		target, req, err := requestFor(app, common.AppID(), w)
		if err != nil {
			return err
		}
		resp, err := ask(sys, target, req, answerTimeout)
		if err != nil {
			return fmt.Errorf("word %q: %w", w, err)
		}
		if resp.Status != querypb.Status_OK {
			return fmt.Errorf("word %q: node %s answered %s: %s", w, resp.Node, resp.Status, resp.Error)
		}
		var n int64
		if resp.Found {
			if len(resp.Value) != 8 {
				return fmt.Errorf("word %q: a count of %d bytes", w, len(resp.Value))
			}
			n = int64(binary.BigEndian.Uint64(resp.Value))
		}
		fmt.Fprintf(stdout, "%s %d\n", w, n)
	}
	return nil
}

// answerTimeout bounds the wait of the program's actor for an answer.
const answerTimeout = 15 * time.Second

// requestFor is where the StoreRequest for word goes and the request: the
// query actor of the node running the word's task, as the App's cluster
// view has it now.
func requestFor(app *eddy.App, appID, word string) (*actor.PID, *querypb.StoreRequest, error) {
	md, err := app.KeyMetadataBytes(wordcount.StoreName, []byte(word))
	if err != nil {
		return nil, nil, err
	}
	req := &querypb.StoreRequest{
		Protocol: eddy.QueryProtocol, Store: wordcount.StoreName,
		Subtopology: int32(md.Task.Subtopology), Partition: md.Task.Partition,
		Get: true, Key: []byte(word),
	}
	for _, n := range app.Nodes() {
		if n.ID != md.Active {
			continue
		}
		if n.Self {
			return app.QueryPID(), req, nil
		}
		return actor.NewPID(n.RemoteAddr, eddy.QueryActorName(appID, n.ID)), req, nil
	}
	return nil, nil, fmt.Errorf("word %q: task %s has no owner now", word, md.Task)
}

// asker is a plain actor of the program: when started it sends its request
// to the query actor and hands the answer, or a timeout, to done.
type asker struct {
	target  *actor.PID
	req     *querypb.StoreRequest
	timeout time.Duration
	done    chan<- answer
}

type answer struct {
	resp *querypb.StoreResponse
	err  error
}

func (a *asker) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		c.SetReceiveTimeout(a.timeout)
		c.Request(a.target, a.req) // the answer comes back to this actor
	case *querypb.StoreResponse:
		a.done <- answer{resp: m}
		c.Stop(c.Self())
	case *actor.ReceiveTimeout:
		a.done <- answer{err: fmt.Errorf("no answer from %s within %v", a.target, a.timeout)}
		c.Stop(c.Self())
	}
}

// ask spawns an asker for req and waits for what it reports.
func ask(sys *actor.ActorSystem, target *actor.PID, req *querypb.StoreRequest, timeout time.Duration) (*querypb.StoreResponse, error) {
	done := make(chan answer, 1)
	sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &asker{target: target, req: req, timeout: timeout, done: done}
	}))
	a := <-done
	return a.resp, a.err
}
