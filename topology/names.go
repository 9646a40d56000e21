package topology

import (
	"errors"
	"fmt"
)

// MaxTopicNameLength is the longest topic name Kafka accepts.
const MaxTopicNameLength = 249

// legalNameChars says what a topic name, an application id and a store name
// may hold: Kafka's legal topic characters. Store names and application ids
// become topic names and directory names, so they share the rule.
const legalNameChars = "ASCII letters, digits, '.', '_' and '-'"

// changelogSuffix is what ChangelogTopicName appends to a store's name.
const changelogSuffix = "-changelog"

// checkNameChars checks that name is a legal Kafka topic name or part of one
// and a safe directory name: not empty, only legalNameChars, and neither "."
// nor ".." (which Kafka refuses, and which as a directory would name the
// state directory itself or its parent). what says what the name names, for
// the error.
func checkNameChars(what, name string) error {
	if name == "" {
		return fmt.Errorf("%s is empty; use %s", what, legalNameChars)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("%s %q is not allowed: names may not be \".\" or \"..\"", what, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-' {
			continue
		}
		return fmt.Errorf("%s %q has %q at byte %d; only %s are allowed (it becomes part of Kafka topic names and of directory names)", what, name, c, i, legalNameChars)
	}
	return nil
}

// ValidateTopicName checks a whole topic name against Kafka's rules: legal
// characters, at most MaxTopicNameLength bytes, not "." or "..". what says
// what the topic is for, for the error.
func ValidateTopicName(what, name string) error {
	if err := checkNameChars(what, name); err != nil {
		return err
	}
	if len(name) > MaxTopicNameLength {
		return fmt.Errorf("%s %q is %d bytes long; Kafka allows at most %d", what, name, len(name), MaxTopicNameLength)
	}
	return nil
}

// ValidateApplicationID checks an application id: it prefixes internal
// topic names, names the consumer group and the state directory, so it must
// be made of legal topic characters and leave room for the internal topics'
// names (checked in full by Topology.ValidateTopicNames).
func ValidateApplicationID(id string) error {
	if err := checkNameChars("application id", id); err != nil {
		return err
	}
	// The shortest internal topic is "<app>-<1 char>-changelog".
	if max := MaxTopicNameLength - len("-x"+changelogSuffix); len(id) > max {
		return fmt.Errorf("application id %q is %d bytes long; at most %d leave room for its internal topic names (Kafka allows %d bytes per topic name)", id, len(id), max, MaxTopicNameLength)
	}
	return nil
}

// checkInternalName checks a name that becomes part of an internal topic
// name "<app>-<name>": legal characters, and short enough for a
// one-character application id. Its full length is checked against the
// actual application id by Topology.ValidateTopicNames.
func checkInternalName(what, name, suffix string) error {
	if err := checkNameChars(what, name); err != nil {
		return err
	}
	if full := len("x-") + len(name) + len(suffix); full > MaxTopicNameLength {
		return fmt.Errorf("%s %q is %d bytes long; its topic \"<app>-%s%s\" would exceed Kafka's %d bytes even with a one-character application id", what, name, len(name), name, suffix, MaxTopicNameLength)
	}
	return nil
}

// validateNames checks, at Build, every name that becomes a topic or a
// directory name: store names (directories under the task's state
// directory, and "<app>-<store>-changelog"), internal topics' names
// ("<app>-<name>-repartition", made from Named and processor names) and the
// external topics read and written.
func (b *Builder) validateNames() error {
	var errs []error
	for _, name := range b.order {
		suffix := ""
		if spec := b.stores[name]; spec.Logging && spec.SourceTopic == "" {
			suffix = changelogSuffix
		}
		if err := checkInternalName("store name", name, suffix); err != nil {
			errs = append(errs, err)
		}
	}
	seen := map[string]bool{}
	for _, n := range b.nodes {
		for _, t := range n.topics {
			if seen[t.String()] {
				continue
			}
			seen[t.String()] = true
			var err error
			if t.Internal {
				err = checkInternalName(fmt.Sprintf("internal topic of %s", n.name), t.Name, "")
			} else {
				err = ValidateTopicName(fmt.Sprintf("topic of %s", n.name), t.Name)
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// ValidateTopicNames checks the application id and the full names of the
// topology's internal topics for application appID: changelog and
// repartition topics must fit Kafka's MaxTopicNameLength.
func (t *Topology) ValidateTopicNames(appID string) error {
	if err := ValidateApplicationID(appID); err != nil {
		return err
	}
	var errs []error
	check := func(what, full string) {
		if len(full) > MaxTopicNameLength {
			errs = append(errs, fmt.Errorf("%s topic %q is %d bytes long; Kafka allows at most %d: shorten the application id or the name", what, full, len(full), MaxTopicNameLength))
		}
	}
	seen := map[string]bool{}
	for _, st := range t.Subtopologies {
		for _, s := range append(append([]TopicRef(nil), st.Sources...), st.Sinks...) {
			if full := s.FullName(appID); s.Internal && !seen[full] {
				seen[full] = true
				check("internal", full)
			}
		}
		for _, spec := range st.Stores {
			if spec.Logging && spec.SourceTopic == "" {
				check(fmt.Sprintf("store %q's changelog", spec.Name), ChangelogTopicName(appID, spec.Name))
			}
		}
	}
	return errors.Join(errs...)
}
