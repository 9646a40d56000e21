package topology

import "testing"

// A sink shares the key's bytes as the value only for the built-in string
// serde on both sides and a key and value that are the same non-empty string.
func TestSameStringKV(t *testing.T) {
	same := sameStringKV(String(), String())
	if same == nil {
		t.Fatal("string key and value serdes: no test of sameness")
	}
	for _, c := range []struct {
		k, v string
		want bool
	}{{"word", "word", true}, {"word", "words", false}, {"a", "b", false}, {"", "", false}} {
		if got := same(c.k, c.v); got != c.want {
			t.Errorf("same(%q, %q) = %v, want %v", c.k, c.v, got, c.want)
		}
	}
	if sameStringKV(String(), Bytes()) != nil {
		t.Error("string key with byte values: sharing offered")
	}
	if sameStringKV[string, string](upperSerde{}, String()) != nil {
		t.Error("a user's string serde: sharing offered (its bytes may differ from the built-in's)")
	}
}

// upperSerde is a string serde of a user's, not the built-in one.
type upperSerde struct{}

func (upperSerde) Serialize(_ string, v string) ([]byte, error)   { return []byte(v + "!"), nil }
func (upperSerde) Deserialize(_ string, b []byte) (string, error) { return string(b), nil }
