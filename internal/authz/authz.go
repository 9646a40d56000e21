// Package authz recognises a broker's refusals for want of an ACL and
// records what was refused: the resource and the operation. The App turns
// them into errors that say which ACL to add (authz.go at the root).
package authz

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
)

// Is reports whether err holds an authorization failure of the broker:
// TOPIC_, GROUP_, TRANSACTIONAL_ID_ or CLUSTER_AUTHORIZATION_FAILED. Such an
// error does not pass by being tried again: the App stops on it.
func Is(err error) bool {
	return errors.Is(err, kerr.TopicAuthorizationFailed) || errors.Is(err, kerr.GroupAuthorizationFailed) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed)
}

// Resource kinds, as kafka-acls.sh names them (--topic, --group, ...).
const (
	Topic           = "topic"
	Group           = "group"
	TransactionalID = "transactional-id"
	Cluster         = "cluster"
)

// Denied is a refused operation on a resource.
type Denied struct {
	Kind      string // Topic, Group, TransactionalID or Cluster
	Name      string // "" for the cluster
	Operation string // Read, Write, Describe, Create, ... (kafka-acls.sh --operation)
	Err       error
}

func (d *Denied) Error() string {
	return fmt.Sprintf("not authorized to %s %s: %v", d.Operation, d.resource(), d.Err)
}

func (d *Denied) Unwrap() error { return d.Err }

func (d *Denied) resource() string {
	if d.Kind == Cluster {
		return "the cluster"
	}
	return d.Kind + " " + d.Name
}

// Wrap returns err as a *Denied of operation on kind name when it is an
// authorization failure, else err unchanged.
func Wrap(err error, kind, name, operation string) error {
	if err == nil || !Is(err) {
		return err
	}
	var d *Denied
	if errors.As(err, &d) {
		return err
	}
	return &Denied{Kind: kind, Name: name, Operation: operation, Err: err}
}
