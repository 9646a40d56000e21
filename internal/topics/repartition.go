package topics

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
)

// RepartitionDefaults are the settings of a repartition topic (Kafka
// Streams' RepartitionTopicConfig): records are deleted by the purge once
// the application committed them, never by retention, so retention.ms is
// -1; segments of 50 MiB let a purge free disk space in steps of that size
// (the broker deletes whole segments only); records keep the timestamps
// they were sent with.
var RepartitionDefaults = map[string]string{
	"cleanup.policy":         "delete",
	"retention.ms":           "-1",
	"segment.bytes":          "52428800",
	"message.timestamp.type": "CreateTime",
}

// repartitionForced are the settings no user configuration may change: with
// a finite retention the broker deletes records not yet processed whenever
// their timestamps are old (input reprocessed from the past), and with
// compaction it drops all but the last record of a key.
var repartitionForced = []string{"cleanup.policy", "retention.ms"}

// RepartitionConfig is the configuration to create a repartition topic with:
// RepartitionDefaults, then user (settings for every internal topic, Kafka
// Streams' "topic."-prefixed configs), then the forced settings again.
func RepartitionConfig(user map[string]string) map[string]*string {
	out := make(map[string]*string, len(RepartitionDefaults)+len(user))
	for k, v := range RepartitionDefaults {
		out[k] = &v
	}
	for k, v := range user {
		out[k] = &v
	}
	for _, k := range repartitionForced {
		v := RepartitionDefaults[k]
		out[k] = &v
	}
	return out
}

// CheckRepartitionRetention reads the configuration of existing repartition
// topics and describes each whose retention would delete records before they
// are processed: retention.ms other than -1 (topics created by an Eddy that
// did not set it, or by hand), or compaction. An empty result means all is
// well.
func CheckRepartitionRetention(ctx context.Context, adm *kadm.Client, topics []string) ([]string, error) {
	if len(topics) == 0 {
		return nil, nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("describe configs of repartition topics: %w", err)
	}
	var problems []string
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, fmt.Errorf("describe configs of %s: %w", rc.Name, rc.Err)
		}
		for _, c := range rc.Configs {
			switch c.Key {
			case "retention.ms":
				if v := c.MaybeValue(); v != "-1" {
					problems = append(problems, fmt.Sprintf("%s has retention.ms=%s: the broker deletes records older than that before they are processed (set it to -1)", rc.Name, v))
				}
			case "cleanup.policy":
				if v := c.MaybeValue(); v != "delete" {
					problems = append(problems, fmt.Sprintf("%s has cleanup.policy=%s: compaction drops records before they are processed (set it to delete)", rc.Name, v))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems, nil
}
