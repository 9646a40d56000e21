package eddy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eddystreams/eddy/internal/authz"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// AuthorizationError is a refusal of the broker for want of an ACL,
// with what was refused and the kafka-acls.sh command that grants it. The
// App stops on it (retrying does not help): Start or Run returns it, or
// Err after a fatal error.
type AuthorizationError struct {
	Principal string // "User:alice"; "User:<principal>" when Eddy does not know it
	Resource  string // topic, group, transactional-id or cluster
	Name      string // the resource's name, or its prefix when Prefixed
	Prefixed  bool
	Operation string // Read, Write, Create, ...
	// Command is the kafka-acls.sh command that adds the ACL.
	Command string
	Err     error
}

func (e *AuthorizationError) Error() string {
	what := "the cluster"
	if e.Resource != authz.Cluster {
		what = e.Resource + " " + e.Name
		if e.Prefixed {
			what = e.Resource + "s prefixed " + e.Name
		}
	}
	return fmt.Sprintf("%v\n%s is not allowed to %s %s; grant it with:\n  %s", e.Err, e.Principal, e.Operation, what, e.Command)
}

func (e *AuthorizationError) Unwrap() error { return e.Err }

// explainAuthz returns err as an *AuthorizationError when it holds an
// authorization failure, else err. The resource and operation are those a
// site recorded (authz.Denied), else inferred from the kind of failure:
// the group is the application id, transactional ids are prefixed with it.
// A topic of the application's own (internal topics) gets a prefixed ACL
// on "<app id>-", so that one ACL covers them all.
func (a *App) explainAuthz(err error) error {
	if errors.Is(err, kerr.SaslAuthenticationFailed) && a.cfg.security.user != "" {
		// The broker's answer names the mechanism; say whose credentials.
		return fmt.Errorf("%w (SASL user %q: check the user and its password)", err, a.cfg.security.user)
	}
	if err == nil || !authz.Is(err) {
		return err
	}
	var done *AuthorizationError
	if errors.As(err, &done) {
		return err
	}
	d := &authz.Denied{}
	if !errors.As(err, &d) {
		switch {
		case errors.Is(err, kerr.GroupAuthorizationFailed):
			d = &authz.Denied{Kind: authz.Group, Name: a.cfg.AppID, Operation: "Read"}
		case errors.Is(err, kerr.TransactionalIDAuthorizationFailed):
			d = &authz.Denied{Kind: authz.TransactionalID, Name: a.cfg.AppID + "-", Operation: "Write"}
		case errors.Is(err, kerr.ClusterAuthorizationFailed):
			d = &authz.Denied{Kind: authz.Cluster, Operation: "Create"}
		default: // a topic Eddy did not name
			d = &authz.Denied{Kind: authz.Topic, Name: "<topic>", Operation: "Describe"}
		}
	}
	if d.Kind == authz.Topic && d.Operation == "Write" && a.cfg.guarantee == ExactlyOnce {
		// The broker refuses a transaction's AddPartitionsToTxn as a
		// whole, so the records of every topic in it fail with the refusal
		// and the first to reach the App may be of a topic it may write (a
		// changelog): ask the broker which one it may not.
		if name := a.writeRefused(d.Name); name != d.Name {
			err = fmt.Errorf("%w\n(the broker refused the whole transaction, which also wrote to %s, for want of Write on %s)", err, d.Name, name)
			d = &authz.Denied{Kind: d.Kind, Name: name, Operation: d.Operation, Err: d.Err}
		}
	}
	if d.Kind == authz.Topic && d.Operation == "Describe" {
		// Seeing a topic is the least of it: ask for what the App does.
		d = &authz.Denied{Kind: d.Kind, Name: d.Name, Operation: a.topicUse(d.Name), Err: d.Err}
	}
	e := &AuthorizationError{Principal: a.cfg.security.principal, Resource: d.Kind, Name: d.Name, Operation: d.Operation, Err: err}
	if e.Principal == "" {
		e.Principal = "User:<principal>"
	}
	prefix := a.cfg.AppID + "-"
	switch {
	case d.Kind == authz.TransactionalID && strings.HasPrefix(d.Name, prefix):
		e.Name, e.Prefixed = prefix, true
	case d.Kind == authz.Topic && strings.HasPrefix(d.Name, prefix):
		e.Name, e.Prefixed = prefix, true
	}
	// A group needs Read (which implies Describe) for the commits.
	if d.Kind == authz.Group {
		e.Operation = "Read"
	}
	bootstrap := "<broker>"
	if len(a.cfg.brokers) > 0 {
		bootstrap = a.cfg.brokers[0]
	}
	cmd := fmt.Sprintf("kafka-acls.sh --bootstrap-server %s --command-config <admin client properties> --add --allow-principal %s --operation %s", bootstrap, e.Principal, e.Operation)
	if d.Kind == authz.Cluster {
		cmd += " --cluster"
	} else {
		cmd += " --" + d.Kind + " " + e.Name
	}
	if e.Prefixed {
		cmd += " --resource-pattern-type prefixed"
	}
	e.Command = cmd
	return e
}

// writeRefused returns the topic the App may not write, of named and the
// topics its tasks write (sinks, dead-letter topics, and the internal topics: repartition topics
// and changelogs), from the operations the broker says the App's principal
// may do on each (Metadata with authorized operations, KIP-430). named when
// it is one, or when the broker cannot tell.
func (a *App) writeRefused(named string) string {
	if a.admin == nil || a.layout == nil {
		return named
	}
	// outputTopics and InternalTopics list each topic once; named, which
	// is one of them, is left out of both (a name in both lists would only
	// be checked twice, with the same answer).
	topics := []string{named}
	for _, t := range a.outputTopics() {
		if t != named {
			topics = append(topics, t)
		}
	}
	for _, it := range a.layout.InternalTopics() {
		if it.Name != named {
			topics = append(topics, it.Name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	md, err := a.admin.Metadata(kadm.WithAuthorizedOps(ctx), topics...)
	if err != nil {
		return named
	}
	for _, t := range topics {
		td, ok := md.Topics[t]
		if !ok || td.Err != nil || len(td.AuthorizedOperations) == 0 {
			if t == named {
				return named // the broker does not say
			}
			continue
		}
		if !slices.ContainsFunc(td.AuthorizedOperations, func(op kadm.ACLOperation) bool {
			return op == kadm.OpWrite || op == kadm.OpAll
		}) {
			return t
		}
	}
	return named
}

// topicUse is the operation the App needs on an external topic: Read for a
// source, Write for a sink, else Describe.
func (a *App) topicUse(topic string) string {
	subs := a.topo.Subtopologies
	if g := a.topo.GlobalSubtopology(); g != nil {
		subs = append(subs[:len(subs):len(subs)], g)
	}
	for _, st := range subs {
		for _, s := range st.Sources {
			if s.Name == topic {
				return "Read"
			}
		}
	}
	for _, st := range a.topo.Subtopologies {
		for _, s := range st.Sinks {
			if s.Name == topic {
				return "Write"
			}
		}
	}
	return "Describe"
}
