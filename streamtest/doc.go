// Package streamtest runs a topology in a test, without a broker: the
// counterpart of Kafka Streams' TopologyTestDriver.
//
// A Driver builds every task of every sub-topology, one per partition, from
// the real task code of package partition: the same record queues, stores,
// changelogging, checkpoints and restoration as in the application. Only
// Kafka is replaced, by in-memory topics owned by the driver:
//
//   - a record piped into an input topic is appended to the partition
//     Kafka's default partitioner picks (murmur2 of the key) and processed
//     before the call returns, together with every record the topology
//     sends to its own repartition topics, one record at a time in the
//     order they were written; PipeBatch writes several records before
//     processing any, so later inputs overtake the internal records earlier
//     ones sent, as they do when a fetch brings them together;
//   - records sent to other topics are kept, to be read with a
//     TestOutputTopic (internal topics can be read too);
//   - changelog topics are kept, so Restart can close the tasks and make new
//     ones that restore their stores from them, and input offsets are
//     committed by Commit, so a restart processes again what was not
//     committed (at-least-once, as in the application);
//   - the wall clock is a value the test moves with AdvanceWallClock, which
//     runs the wall-clock punctuators that are due; stream-time punctuators
//     run as the piped records advance each task's stream time;
//   - a table's source topic is its store's changelog, as in the
//     application, and a record piped into a global table's topic updates
//     the global store at once (global stores are restored before the tasks
//     start, and ReadStore reads them); PipeTombstone sends a null value.
//
// Under exactly-once (eddy.WithProcessingGuarantee(eddy.ExactlyOnce)) each
// task has an in-memory transactional producer: its records are in the
// topics but seen by nobody (downstream tasks, restores, TestOutputTopic all
// read committed) until Commit commits them with the input offsets, which
// Commit repeats until a commit makes nothing new visible; Restart(Unclean())
// aborts what was not committed, and the new tasks wipe stores without a
// changelog, as the application does. Offsets committed outside a
// transaction are an error there.
//
// The driver takes eddy.New's options (see Option).
//
// As in the application, a task that fails (an undecodable record with the
// default handler, say) stops the driver until Restart: see ErrTaskFailed.
//
// Typed access goes through generic functions (CreateInputTopic,
// CreateOutputTopic, ReadStore, and ReadWindowStore and ReadSessionStore
// for the stores of windowed and session aggregations, as Kafka Streams'
// getWindowStore and getSessionStore), since Go methods cannot add type
// parameters.
//
// A Driver (and a TestStore) is safe for concurrent use but processes one
// call at a time; a TestOutputTopic is not, since it keeps a read position.
//
// streamtest imports topology, partition, state and the root package eddy
// (its options); only tests import it.
package streamtest
