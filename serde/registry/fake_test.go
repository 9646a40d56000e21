package registry

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeRegistry serves the part of the Confluent schema-registry API the
// serdes use, with the documented request and response shapes:
//
//	POST /subjects/{subject}/versions  {"schema":..,"schemaType":..} -> {"id":N}
//	POST /subjects/{subject}           lookup -> {"subject","id","version","schema"} or 404 40401/40403
//	GET  /schemas/ids/{id}             -> {"schema":..,"schemaType":..} or 404 40403
//	GET  /subjects/{subject}/versions/{version|latest} -> {"subject","id","version","schema"}
//
// Ids are global and an identical schema keeps its id, as in the registry.
// It counts requests by kind and can be made to fail every request.
type fakeRegistry struct {
	*httptest.Server
	mu       sync.Mutex
	schemas  []fakeSchema     // id-1 -> schema
	subjects map[string][]int // subject -> ids by version
	requests map[string]int   // "register", "lookup", "byid"
	fail     int              // answer every request with this status, if not 0
}

type fakeSchema struct {
	Schema     string    `json:"schema"`
	SchemaType string    `json:"schemaType,omitempty"`
	References []fakeRef `json:"references,omitempty"`
}

type fakeRef struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Version int    `json:"version"`
}

func (s fakeSchema) same(o fakeSchema) bool {
	return s.Schema == o.Schema && s.SchemaType == o.SchemaType && slices.Equal(s.References, o.References)
}

// schemaOf returns the schema registered as version of subject.
func (f *fakeRegistry) schemaOf(subject string, version int) (fakeSchema, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	versions := f.subjects[subject]
	if version < 1 || version > len(versions) {
		return fakeSchema{}, false
	}
	return f.schemas[versions[version-1]-1], true
}

func newFakeRegistry(t *testing.T) *fakeRegistry {
	f := &fakeRegistry{subjects: map[string][]int{}, requests: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeRegistry) client(t *testing.T) *Client {
	t.Helper()
	c, err := Dial(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fakeRegistry) count(kind string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[kind]
}

func (f *fakeRegistry) setFail(status int) {
	f.mu.Lock()
	f.fail = status
	f.mu.Unlock()
}

// subjectNames returns the subjects that have a version.
func (f *fakeRegistry) subjectNames() map[string]bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]bool{}
	for s := range f.subjects {
		m[s] = true
	}
	return m
}

func srError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error_code": code, "message": msg})
}

func (f *fakeRegistry) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != 0 {
		srError(w, f.fail, f.fail*100, "injected failure")
		return
	}
	path := r.URL.EscapedPath()
	reply := func(v any) {
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/schemas/ids/"):
		f.requests["byid"]++
		id, err := strconv.Atoi(strings.TrimPrefix(path, "/schemas/ids/"))
		if err != nil || id < 1 || id > len(f.schemas) {
			srError(w, 404, 40403, "Schema not found")
			return
		}
		reply(f.schemas[id-1])
	case r.Method == http.MethodGet && strings.HasPrefix(path, "/subjects/") && strings.Contains(path, "/versions/"):
		f.requests["version"]++
		subj, ver, _ := strings.Cut(strings.TrimPrefix(path, "/subjects/"), "/versions/")
		subject, _ := url.PathUnescape(subj)
		versions := f.subjects[subject]
		v, err := strconv.Atoi(ver)
		if ver == "latest" || v == -1 {
			v, err = len(versions), nil
		}
		if err != nil || v < 1 || v > len(versions) {
			srError(w, 404, 40402, "Version not found")
			return
		}
		id := versions[v-1]
		s := f.schemas[id-1]
		reply(map[string]any{"subject": subject, "id": id, "version": v, "schema": s.Schema, "schemaType": s.SchemaType, "references": s.References})
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/subjects/"):
		rest := strings.TrimPrefix(path, "/subjects/")
		register := strings.HasSuffix(rest, "/versions")
		subject, err := url.PathUnescape(strings.TrimSuffix(strings.TrimSuffix(rest, "/versions"), "/"))
		if err != nil {
			srError(w, 400, 400, "bad subject")
			return
		}
		var s fakeSchema
		if err := json.NewDecoder(r.Body).Decode(&s); err != nil {
			srError(w, 422, 42201, "Invalid schema")
			return
		}
		if s.SchemaType == "AVRO" {
			s.SchemaType = ""
		}
		for _, ref := range s.References {
			if ref.Version < 1 || ref.Version > len(f.subjects[ref.Subject]) {
				srError(w, 422, 42201, "Invalid schema: reference "+ref.Name+" to a version that does not exist")
				return
			}
		}
		id := 0
		for i, have := range f.schemas {
			if have.same(s) {
				id = i + 1
			}
		}
		if register {
			f.requests["register"]++
			if id == 0 {
				f.schemas = append(f.schemas, s)
				id = len(f.schemas)
			}
			for _, have := range f.subjects[subject] {
				if have == id {
					reply(map[string]int{"id": id})
					return
				}
			}
			f.subjects[subject] = append(f.subjects[subject], id)
			reply(map[string]int{"id": id})
			return
		}
		f.requests["lookup"]++
		versions, ok := f.subjects[subject]
		if !ok {
			srError(w, 404, 40401, "Subject not found")
			return
		}
		for v, have := range versions {
			if have == id {
				reply(map[string]any{"subject": subject, "id": id, "version": v + 1, "schema": s.Schema, "schemaType": s.SchemaType})
				return
			}
		}
		srError(w, 404, 40403, "Schema not found")
	default:
		srError(w, 404, 404, "not served by the fake")
	}
}

// registryURL returns the real registry's URL from EDDY_SCHEMA_REGISTRY_URL,
// or skips the test when it is unset (make test sets it).
func registryURL(t *testing.T) string {
	t.Helper()
	u := strings.TrimSpace(os.Getenv("EDDY_SCHEMA_REGISTRY_URL"))
	if u == "" {
		t.Skip("EDDY_SCHEMA_REGISTRY_URL not set; run via make test")
	}
	return u
}
