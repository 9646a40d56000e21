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
// rocksdb_cache_t*), and a block-based table factory from table_options (a
// rocksdb_block_based_table_options_t* using that cache) that charges table
// readers to the cache too, for every DB to share. expect_capacity and
// expect_metadata_block_size are the cache's capacity and the options'
// metadata_block_size as the caller set them: they guard against struct
// layouts other than the ones this shim was written for. Returns NULL when
// a check fails.
eddy_wbm_t* eddy_wbm_create(void* cache, size_t expect_capacity, size_t buffer_size, void* table_options,
                            uint64_t expect_metadata_block_size);

// eddy_wbm_attach sets the manager and the shared table factory on options
// (a rocksdb_options_t*) before the DB is opened. expect_write_buffer_size
// is the write_buffer_size the caller set on those options, checked like
// expect_capacity. Returns 0 on success, -1 when the check fails.
int eddy_wbm_attach(void* options, size_t expect_write_buffer_size, eddy_wbm_t* wbm);

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
