package exampleapp

import (
	"encoding/hex"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddystreams/eddy/topology"
)

// A key of each accepted length, in hex.
const (
	key16 = "00112233445566778899aabbccddeeff"
	key24 = key16 + "0123456789abcdef"
	key32 = key16 + key16
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGossipKey(t *testing.T) {
	for _, tc := range []struct {
		name      string
		file, env string // file content ("" and noFile: no -gossip-key-file)
		noFile    bool
		want      string // hex of the key; "" none
		wantErr   string
	}{
		{name: "none", noFile: true},
		{name: "env 16", noFile: true, env: key16, want: key16},
		{name: "env 24 upper case, blanks around", noFile: true, env: " " + strings.ToUpper(key24) + "\n", want: key24},
		{name: "file 32 with newline", file: key32 + "\n", want: key32},
		{name: "file wins over env", file: key16, env: key32, want: key16},
		{name: "empty file", file: "\n", env: key16, wantErr: "empty"},
		{name: "env too short", noFile: true, env: key16[:30], wantErr: "30 characters"},
		{name: "file odd length", file: key16 + "a", wantErr: "33 characters"},
		{name: "file not hex", file: "zz" + key16[2:], wantErr: "not hex"},
		{name: "env not hex", noFile: true, env: key16[:31] + "g", wantErr: "not hex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := ""
			if !tc.noFile {
				path = writeFile(t, tc.file)
			}
			key, err := gossipKey(path, tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				// The error names where the key came from, never what it holds.
				for _, secret := range []string{tc.file, tc.env} {
					if s := strings.TrimSpace(secret); len(s) >= 8 && strings.Contains(strings.ToLower(err.Error()), strings.ToLower(s[:8])) {
						t.Fatalf("error %q shows the key", err)
					}
				}
				if strings.Contains(err.Error(), "invalid byte") {
					t.Fatalf("error %q quotes a character of the key", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(key); got != tc.want {
				t.Fatalf("key %s, want %s", got, tc.want)
			}
		})
	}
}

func TestMissingKeyFile(t *testing.T) {
	_, err := gossipKey(filepath.Join(t.TempDir(), "absent"), key16)
	if err == nil || !strings.HasPrefix(err.Error(), "-gossip-key-file: ") {
		t.Fatalf("err = %v, want the file's error", err)
	}
}

func TestSplitList(t *testing.T) {
	got := SplitList(" 127.0.0.1:7946, ,10.0.0.2:7946,")
	if strings.Join(got, "|") != "127.0.0.1:7946|10.0.0.2:7946" {
		t.Fatalf("SplitList = %q", got)
	}
	if got := SplitList(""); got != nil {
		t.Fatalf("SplitList(\"\") = %q, want none", got)
	}
}

// The cluster flags reach the App: values it refuses make NewApp fail with
// its error, and valid ones make an App.
func TestClusterFlagsReachTheApp(t *testing.T) {
	b := topology.NewBuilder()
	topology.Stream(b, "in", topology.String(), topology.String()).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(GossipKeyEnv, "")
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{args: nil},
		{args: []string{"-standalone", "-standby-replicas", "0", "-capacity", "3", "-rack", "r1",
			"-gossip-bind", "127.0.0.1:0", "-gossip-advertise", "127.0.0.1:7946", "-seeds", "127.0.0.1:7947,127.0.0.1:7948",
			"-gossip-key-file", writeFile(t, key24)}},
		{args: []string{"-standby-replicas", "-1"}, wantErr: "standby replicas -1"},
		{args: []string{"-capacity", "-2"}, wantErr: "node capacity -2"},
		{args: []string{"-gossip-key-file", writeFile(t, "abcd")}, wantErr: "4 characters"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("example", flag.ContinueOnError)
			f := RegisterFlags(fs, "example")
			if err := fs.Parse(append([]string{"-state-dir", t.TempDir()}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			app, cleanup, err := f.NewApp(topo, "example-")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if app == nil {
				t.Fatal("no App")
			}
			cleanup()
		})
	}
}
