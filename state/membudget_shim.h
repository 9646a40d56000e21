// A small C shim around rocksdb::WriteBufferManager, which RocksDB's C API
// (and so grocksdb) does not expose. See membudget.go.
#ifndef EDDY_MEMBUDGET_SHIM_H
#define EDDY_MEMBUDGET_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eddy_wbm_t eddy_wbm_t;

// eddy_wbm_create makes a WriteBufferManager that bounds memtables to
// buffer_size bytes and charges them to the block cache behind cache (a
// rocksdb_cache_t*). expect_capacity is the capacity the caller gave the
// cache: it guards against a rocksdb_cache_t layout other than the one this
// shim was written for. Returns NULL when the check fails.
eddy_wbm_t* eddy_wbm_create(void* cache, size_t expect_capacity, size_t buffer_size);

// eddy_wbm_attach sets the manager on options (a rocksdb_options_t*) before
// the DB is opened. expect_write_buffer_size is the write_buffer_size the
// caller set on those options, checked like expect_capacity. Returns 0 on
// success, -1 when the check fails.
int eddy_wbm_attach(void* options, size_t expect_write_buffer_size, eddy_wbm_t* wbm);

// eddy_charge_table_memory makes table readers, file metadata and filter
// construction of tables built with table_options (a
// rocksdb_block_based_table_options_t*) charged to their block cache. It
// must be called before the options are set on a DB's options.
// expect_metadata_block_size is checked like expect_capacity. Returns 0 on
// success, -1 when the check fails.
int eddy_charge_table_memory(void* table_options, uint64_t expect_metadata_block_size);

// eddy_wbm_set_buffer_size changes the bound; eddy_wbm_buffer_size reads it.
void eddy_wbm_set_buffer_size(eddy_wbm_t* wbm, size_t buffer_size);
size_t eddy_wbm_buffer_size(eddy_wbm_t* wbm);

// eddy_wbm_memory_usage is the memory of every memtable the manager bounds
// (mutable and being flushed); eddy_wbm_mutable_memory_usage only the
// mutable ones.
size_t eddy_wbm_memory_usage(eddy_wbm_t* wbm);
size_t eddy_wbm_mutable_memory_usage(eddy_wbm_t* wbm);

// eddy_wbm_destroy drops this reference; DBs opened with the manager keep
// theirs until they close.
void eddy_wbm_destroy(eddy_wbm_t* wbm);

#ifdef __cplusplus
}
#endif

#endif
