package state

import "bytes"

// prefixEnd returns the smallest key greater than every key that starts
// with prefix, or nil when there is none (prefix empty or all 0xff); callers
// treat nil as "unbounded". That is still exact: every key at or above an
// all-0xff prefix starts with it, so [prefix, prefixEnd) is the prefix's range.
func prefixEnd(prefix []byte) []byte {
	for i := len(prefix) - 1; i >= 0; i-- {
		if prefix[i] != 0xff {
			end := make([]byte, i+1)
			copy(end, prefix)
			end[i]++
			return end
		}
	}
	return nil
}

// emptyRange reports whether [from, to) can hold no key. An empty, non-nil
// to is such a case, and one RocksDB must not see: grocksdb passes it as a
// NULL pointer, which RocksDB reads as "no upper bound".
func emptyRange(from, to []byte) bool {
	return to != nil && (len(to) == 0 || from != nil && bytes.Compare(from, to) >= 0)
}

// clone copies b into a new slice the caller owns. It keeps the difference
// between nil (absent) and empty (present, zero length).
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
