// Package topology is Eddy's public API for describing a stream processing
// job: the typed DSL (streams, grouped streams, tables), the Processor API
// (Process, ProcessValues, punctuation), serdes, the store interfaces
// processors see, and Build, which validates the graph and splits it into
// sub-topologies at repartition topics.
//
// The runtime (package partition) never sees DSL types: Build produces a plain
// Topology of sub-topologies, each instantiated per task into a chain of typed
// processor nodes.
//
// topology imports nothing else of Eddy.
package topology
