package actors

// RestoreFetchBytes is the fetch size of each changelog restore on a node
// whose buffered input is bounded by maxBufferedBytes: a node restores
// parallelStarts tasks at once and each restore's consumer holds about two
// fetches, so restores together hold about the input bound. At least 1 MiB
// (smaller fetches cost more round trips than memory saved), at most 64 MiB.
func RestoreFetchBytes(maxBufferedBytes int64) int32 {
	return int32(min(max(maxBufferedBytes/int64(2*parallelStarts()), 1<<20), 64<<20))
}
