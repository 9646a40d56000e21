package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
)

// Client talks to a Confluent-compatible schema registry and caches what it
// learns: schemas by id (ids never change meaning) and the id of each
// (subject, schema) pair. Failed requests are not cached, so a registry that
// comes back is used again. One Client is shared by any number of serdes and
// is safe for concurrent use.
type Client struct {
	sr      *sr.Client
	timeout time.Duration

	mu       sync.RWMutex
	byID     map[int]sr.Schema
	ids      map[subjectSchema]int
	versions map[subjectSchema]int
}

type subjectSchema struct {
	subject string
	typ     sr.SchemaType
	schema  string
}

// ClientOpt configures a Client.
type ClientOpt func(*Client)

// RequestTimeout bounds each registry request (default 10s). A serde waits
// at most this long for the registry on a record it has no cached schema for.
func RequestTimeout(d time.Duration) ClientOpt { return func(c *Client) { c.timeout = d } }

// NewClient wraps a franz-go schema-registry client.
func NewClient(cl *sr.Client, opts ...ClientOpt) *Client {
	c := &Client{
		sr:       cl,
		timeout:  10 * time.Second,
		byID:     make(map[int]sr.Schema),
		ids:      make(map[subjectSchema]int),
		versions: make(map[subjectSchema]int),
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Dial makes a Client for the registry at url (for Apicurio, its
// Confluent-compatible API, such as http://host:8080/apis/ccompat/v7).
// srOpts are passed to franz-go's sr.NewClient (authentication, TLS).
func Dial(url string, srOpts ...sr.ClientOpt) (*Client, error) {
	all := append([]sr.ClientOpt{sr.URLs(url), sr.HTTPClient(&http.Client{Timeout: 30 * time.Second})}, srOpts...)
	cl, err := sr.NewClient(all...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client: %w", err)
	}
	return NewClient(cl), nil
}

// SR returns the franz-go client, for calls this package does not wrap.
func (c *Client) SR() *sr.Client { return c.sr }

func (c *Client) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// cached reads m, one of the Client's caches, under its lock.
func (c *Client) cached(m map[subjectSchema]int, key subjectSchema) (int, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := m[key]
	return v, ok
}

// schemaID returns the id of schema under subject: from the cache, else by
// registering it (register) or by looking it up (ErrNotRegistered if the
// registry does not have it under subject).
func (c *Client) schemaID(subject string, schema sr.Schema, register bool) (int, error) {
	key := subjectSchema{subject, schema.Type, schema.Schema}
	id, ok := c.cached(c.ids, key)
	if ok {
		return id, nil
	}
	ctx, cancel := c.ctx()
	defer cancel()
	var err error
	version := 0 // known from a look-up only
	if register {
		// One request: the registry answers with the id, the same one
		// again if the schema is already registered under subject.
		id, err = c.sr.RegisterSchema(ctx, subject, schema, -1, -1)
		if err != nil {
			return 0, fmt.Errorf("%w: registering the %s schema under subject %q: %w", ErrRegistry, typeName(schema.Type), subject, err)
		}
	} else {
		ss, err := c.sr.LookupSchema(ctx, subject, schema)
		if err != nil {
			if notFound(err) {
				return 0, fmt.Errorf("%w: subject %q has no version with the serde's %s schema (automatic registration is off)", ErrNotRegistered, subject, typeName(schema.Type))
			}
			return 0, fmt.Errorf("%w: looking up the %s schema under subject %q: %w", ErrRegistry, typeName(schema.Type), subject, err)
		}
		id, version = ss.ID, ss.Version
	}
	c.mu.Lock()
	c.ids[key] = id
	if version > 0 {
		c.versions[key] = version
	}
	if _, ok := c.byID[id]; !ok {
		c.byID[id] = schema
	}
	c.mu.Unlock()
	return id, nil
}

// schemaVersion returns the version of schema under subject (registering it
// first if register), for a reference to it.
func (c *Client) schemaVersion(subject string, schema sr.Schema, register bool) (int, error) {
	key := subjectSchema{subject, schema.Type, schema.Schema}
	if v, ok := c.cached(c.versions, key); ok {
		return v, nil
	}
	if _, err := c.schemaID(subject, schema, register); err != nil {
		return 0, err
	}
	if v, ok := c.cached(c.versions, key); ok {
		return v, nil // schemaID looked it up
	}
	// The registry answers a registration with the id alone.
	ctx, cancel := c.ctx()
	defer cancel()
	ss, err := c.sr.LookupSchema(ctx, subject, schema)
	if err != nil {
		return 0, fmt.Errorf("%w: looking up the version of the %s schema under subject %q: %w", ErrRegistry, typeName(schema.Type), subject, err)
	}
	c.mu.Lock()
	c.versions[key] = ss.Version
	c.mu.Unlock()
	return ss.Version, nil
}

// schemaByID returns the schema with id, from the cache or the registry.
func (c *Client) schemaByID(id int) (sr.Schema, error) {
	c.mu.RLock()
	s, ok := c.byID[id]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	ctx, cancel := c.ctx()
	defer cancel()
	s, err := c.sr.SchemaByID(ctx, id)
	if err != nil {
		if notFound(err) {
			return sr.Schema{}, fmt.Errorf("%w: id %d", ErrUnknownSchemaID, id)
		}
		return sr.Schema{}, fmt.Errorf("%w: fetching schema id %d: %w", ErrRegistry, id, err)
	}
	c.mu.Lock()
	c.byID[id] = s
	c.mu.Unlock()
	return s, nil
}

func notFound(err error) bool {
	var re *sr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// typeName names a schema type; the registry leaves out AVRO, its default.
func typeName(t sr.SchemaType) string {
	switch t {
	case sr.TypeProtobuf:
		return "Protobuf"
	case sr.TypeJSON:
		return "JSON Schema"
	default:
		return "Avro"
	}
}

// checkType fails unless the schema fetched for id is of type want.
func checkType(id int, got sr.Schema, want sr.SchemaType) error {
	if typeName(got.Type) != typeName(want) {
		return fmt.Errorf("%w: id %d is %s, the serde reads %s", ErrSchemaType, id, typeName(got.Type), typeName(want))
	}
	return nil
}
