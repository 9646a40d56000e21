package state

// BulkLoader is implemented by engines that take many writes faster with
// settings of their own, as restoration from a changelog does.
type BulkLoader interface {
	// BeginBulkLoad switches to bulk-load settings.
	BeginBulkLoad() error
	// EndBulkLoad puts the normal settings back.
	EndBulkLoad() error
}
