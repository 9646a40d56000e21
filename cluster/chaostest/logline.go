package chaostest

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseLogLine splits a line written by log/slog's TextHandler into its
// key=value pairs. Keys and values may be quoted as the handler quotes them
// (Go string syntax, for values with spaces, '=', '"', control characters, or
// empty ones). Grouped keys keep their dots ("a.b"). A key given twice keeps
// its last value.
func ParseLogLine(line string) (map[string]string, error) {
	line = strings.TrimRight(line, "\r\n")
	kv := map[string]string{}
	for i := 0; i < len(line); {
		if line[i] == ' ' {
			i++
			continue
		}
		key, n, err := logToken(line[i:], true)
		if err != nil {
			return nil, fmt.Errorf("key at column %d: %w", i+1, err)
		}
		i += n
		if i >= len(line) || line[i] != '=' {
			return nil, fmt.Errorf("key %q at column %d has no '='", key, i+1)
		}
		i++
		val, n, err := logToken(line[i:], false)
		if err != nil {
			return nil, fmt.Errorf("value of %q at column %d: %w", key, i+1, err)
		}
		i += n
		if i < len(line) && line[i] != ' ' {
			return nil, fmt.Errorf("value of %q: unexpected %q at column %d", key, line[i], i+1)
		}
		kv[key] = val
	}
	return kv, nil
}

// logToken reads a key (up to '=') or a value (up to ' ') at the start of s,
// quoted or not, and returns it with the number of bytes it took.
func logToken(s string, key bool) (string, int, error) {
	if strings.HasPrefix(s, `"`) {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return "", 0, fmt.Errorf("bad quoting in %.40q", s)
		}
		u, err := strconv.Unquote(q)
		if err != nil {
			return "", 0, err
		}
		return u, len(q), nil
	}
	end := strings.IndexByte(s, ' ')
	if key {
		end = strings.IndexAny(s, "= ")
	}
	if end < 0 {
		end = len(s)
	}
	if key && end == 0 {
		return "", 0, fmt.Errorf("empty key")
	}
	return s[:end], end, nil
}
