// Package enrich is the stream–table join of examples/05-enrich-orders: a
// stream of orders keyed by customer, joined with a table of customer
// names, with helpers to feed it from text lines and read its results.
package enrich

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/eddystreams/eddy/examples/wordcount"
	"github.com/eddystreams/eddy/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// CustomersStore is the store of the customers table; its changelog is
// the customers topic itself.
const CustomersStore = "customers"

// BaseTimestamp is the timestamp of line 0: line n of the input (counted
// from 1, as error messages count, blank lines included) gets
// BaseTimestamp+n.
const BaseTimestamp int64 = 1700000000000

// Missing is the name an order of an unknown customer gets in a left join.
const Missing = "null"

// Topology joins the stream orders (key the customer id, value "orderId
// amount") with the table customers (key the customer id, value the name)
// into output: key the customer id, value "orderId name amount". Each
// order is looked up in the customers table as it is when the order is
// processed; customer updates produce nothing. An inner join drops orders
// of unknown customers; with left, they come out with the name "null".
func Topology(customers, orders, output string, left bool) (*topology.Topology, error) {
	b := topology.NewBuilder()
	names := topology.Table(b, customers, topology.String(), topology.String(), topology.Named(CustomersStore))
	stream := topology.Stream(b, orders, topology.String(), topology.String())
	var enriched *topology.KStream[string, string]
	if left {
		enriched = topology.LeftJoinTable(stream, names, func(order, name string, found bool) string {
			if !found {
				name = Missing
			}
			return Enrich(order, name)
		})
	} else {
		enriched = topology.JoinTable(stream, names, Enrich)
	}
	enriched.To(output)
	return b.Build()
}

// Enrich turns an order value "orderId amount" and a customer's name into
// "orderId name amount".
func Enrich(order, name string) string {
	id, amount, _ := strings.Cut(order, " ")
	return id + " " + name + " " + amount
}

// Line is one input line: a customer's name (C) or an order (O).
type Line struct {
	No       int // line number, from 1
	Customer bool
	ID       string // the customer id
	Name     string // C: the name
	OrderID  string // O: the order id
	Amount   string // O: the amount, as written
}

// Timestamp is the record timestamp of the line.
func (l Line) Timestamp() int64 { return BaseTimestamp + int64(l.No) }

// ParseLines reads "C customerId name" and "O customerId orderId amount"
// lines (fields separated by white space; blank lines are skipped but
// counted). A bad line is an error naming its number.
func ParseLines(r io.Reader) ([]Line, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	var out []Line
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0:
			continue
		case f[0] == "C" && len(f) == 3:
			out = append(out, Line{No: n, Customer: true, ID: f[1], Name: f[2]})
		case f[0] == "O" && len(f) == 4:
			out = append(out, Line{No: n, ID: f[1], OrderID: f[2], Amount: f[3]})
		default:
			return nil, fmt.Errorf("line %d: %q: want \"C customerId name\" or \"O customerId orderId amount\"", n, sc.Text())
		}
	}
	return out, sc.Err()
}

// Produce sends the customer lines to customers and the order lines to
// orders, keyed by customer id (so Kafka's default partitioner puts a
// customer's names and orders on the same partition number), each stamped
// with its line's timestamp. Customers go first, so that both topics hold
// all their records before the application reads them: it then
// interleaves them by timestamp, and each order meets the name of the
// latest C line above it.
func Produce(ctx context.Context, cl *kgo.Client, customers, orders string, lines []Line) error {
	var cs, ords []*kgo.Record
	for _, l := range lines {
		ts := time.UnixMilli(l.Timestamp())
		if l.Customer {
			cs = append(cs, &kgo.Record{Topic: customers, Key: []byte(l.ID), Value: []byte(l.Name), Timestamp: ts})
		} else {
			ords = append(ords, &kgo.Record{Topic: orders, Key: []byte(l.ID), Value: []byte(l.OrderID + " " + l.Amount), Timestamp: ts})
		}
	}
	for _, batch := range [][]*kgo.Record{cs, ords} {
		if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	return nil
}

// ReadOutput reads topic (read_committed) from the start to its current
// end and returns the values, one per order id — the last one written, so
// that an order processed twice (at-least-once, after a crash) counts
// once — sorted by order id (byte order).
func ReadOutput(ctx context.Context, brokers []string, topic string, conn ...kgo.Opt) ([]string, error) {
	last := map[string]string{}
	err := wordcount.ReadTopic(ctx, brokers, topic, func(r *kgo.Record) error {
		id, _, _ := strings.Cut(string(r.Value), " ")
		last[id] = string(r.Value)
		return nil
	}, conn...)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(last))
	for id := range last {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = last[id]
	}
	return out, nil
}
