package topology

import "time"

// StoreOption configures a store made by an aggregation or a table.
type StoreOption interface{ applyStore(*storeCfg) }

type storeCfg struct {
	name      string
	engine    Engine
	logging   bool
	caching   bool
	retention time.Duration
}

func defaultStoreCfg() storeCfg { return storeCfg{logging: true} }

type storeOptFunc func(*storeCfg)

func (f storeOptFunc) applyStore(c *storeCfg) { f(c) }

// Named names the store (and with it the changelog and repartition topics:
// "<app>-<name>-changelog", "<app>-<name>-repartition"). Default: a generated
// name such as KSTREAM-AGGREGATE-STATE-STORE-0000000003. Name stores you query
// or whose topics must keep their names when the topology changes.
func Named(name string) StoreOption { return storeOptFunc(func(c *storeCfg) { c.name = name }) }

// WithEngine picks the store's engine. Default: the application's default
// engine (RocksDB).
func WithEngine(e Engine) StoreOption { return storeOptFunc(func(c *storeCfg) { c.engine = e }) }

// WithLogging turns the changelog topic on or off. Default: on. A store
// without a changelog starts empty whenever its task moves or its state
// directory is lost.
func WithLogging(on bool) StoreOption { return storeOptFunc(func(c *storeCfg) { c.logging = on }) }

// WithCaching puts a record cache in front of the store (Kafka Streams'
// caching layer): updates of a key between commits are merged, and only the
// latest goes downstream and to the changelog, at the commit or when the
// node's cache budget (eddy.WithCacheMaxBytes) evicts it; reads see the
// cached value. It applies to the stores of Count, Reduce and Aggregate of
// grouped streams and tables, of windowed, sliding and session
// aggregations, of cogroups and of Materialize (not yet of source tables).
// Default: off, so every update is sent as it happens
// (Kafka Streams defaults to on; see docs/decisions/0006-record-cache.md).
func WithCaching(on bool) StoreOption { return storeOptFunc(func(c *storeCfg) { c.caching = on }) }

func applyStoreOpts(opts []StoreOption) storeCfg {
	c := defaultStoreCfg()
	for _, o := range opts {
		o.applyStore(&c)
	}
	return c
}

// WithRetention sets how long a windowed aggregation's store keeps windows,
// in stream time (Kafka Streams' Materialized.withRetention). Default: the
// window size plus grace (sessions: gap plus grace; sliding windows: twice
// the time difference plus grace), the least that still serves every
// window until it closes; a shorter one is an error. Keep windows longer to
// query them after they close.
func WithRetention(d time.Duration) StoreOption {
	return storeOptFunc(func(c *storeCfg) { c.retention = d })
}
