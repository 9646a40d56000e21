// Package registry has serdes that keep their schemas in a
// Confluent-compatible schema registry (Confluent Schema Registry, Apicurio
// Registry's ccompat API, Redpanda) and write the Confluent wire format, so
// that Eddy reads and writes the same records as Kafka Streams and other
// clients using Confluent's serializers.
//
// Each serde implements topology.Serde[T]. Eddy passes the topic to every
// Serialize and Deserialize call, so the subject is derived per record from
// the topic (TopicName, the default: "<topic>-value", or "<topic>-key" with
// the Key option), from the record name (RecordName) or from both
// (TopicRecordName). Like Confluent's serdes in Kafka Streams, a serde used
// for a store or a repartition topic registers its schema under that
// internal topic's subject.
//
// Records: magic byte 0, the schema id as 4 bytes big-endian, for Protobuf
// the message-index array, then the payload. Reading a record whose schema
// id is not cached fetches the schema by id; Avro records are decoded with
// the writer's schema resolved to the serde's. Corrupt input, an unknown id
// or an unreachable registry is an error wrapping one of the Err values of
// this package, which the App hands to its deserialization handler.
package registry
