// Package testpb holds Protobuf messages for the registry serdes' tests.
package testpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative test.proto shipment.proto envelope.proto
