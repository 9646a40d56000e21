// Package querypb holds the protobuf messages of Eddy's remote queries:
// StoreRequest, sent to a node's query actor ("eddy/<application id>/query")
// from any protoactor actor, and StoreResponse. query.proto documents every
// field; regenerate query.pb.go with `go generate` (protoc and
// protoc-gen-go v1.36.12 on the PATH).
package querypb

//go:generate protoc --go_out=. --go_opt=paths=source_relative query.proto
