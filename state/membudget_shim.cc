// See membudget_shim.h. The structs below repeat the definitions of RocksDB's
// db/c.cc (7.8, unchanged since 6.x), whose wrappers are opaque in c.h; the
// create and attach calls check a value through them before trusting them.

#include "membudget_shim.h"

#include <malloc.h>
#include <stdlib.h>

#include <memory>

#include <rocksdb/cache.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

// limit_malloc_arenas caps glibc malloc's arenas at 2 when the program
// loads, before any thread makes one, unless MALLOC_ARENA_MAX chose a number
// (glibc reads it itself). glibc gives each thread that finds an arena busy
// an arena of its own, up to 8 per core, and each keeps the memory freed in
// it: RocksDB allocates memtable arenas, blocks and table readers from its
// own threads and from every Go thread making a cgo call, and with 256
// stores that slack was 60-90 MiB above a 64 MiB budget. See
// docs/decisions/0017-memory-bounds-with-many-stores.md. Set later (when a
// budget is made), the cap no longer holds: glibc has fixed its arena limit
// by then.
__attribute__((constructor)) static void limit_malloc_arenas() {
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
  if (getenv("MALLOC_ARENA_MAX") == nullptr) {
    mallopt(M_ARENA_MAX, 2);
  }
#endif
}

extern "C" {
struct rocksdb_options_t {
  rocksdb::Options rep;
};
struct rocksdb_cache_t {
  std::shared_ptr<rocksdb::Cache> rep;
};
struct rocksdb_block_based_table_options_t {
  rocksdb::BlockBasedTableOptions rep;
};
struct eddy_wbm_t {
  std::shared_ptr<rocksdb::WriteBufferManager> rep;
  std::shared_ptr<rocksdb::TableFactory> tables;
};

eddy_wbm_t* eddy_wbm_create(void* cache, size_t expect_capacity, size_t buffer_size, void* table_options,
                            uint64_t expect_metadata_block_size) {
  auto* c = static_cast<rocksdb_cache_t*>(cache);
  if (c == nullptr || !c->rep || c->rep->GetCapacity() != expect_capacity) {
    return nullptr;
  }
  auto* t = static_cast<rocksdb_block_based_table_options_t*>(table_options);
  if (t == nullptr || t->rep.metadata_block_size != expect_metadata_block_size || t->rep.block_cache != c->rep) {
    return nullptr;
  }
  // Table readers (properties and bookkeeping of each open SST file) and
  // filter construction are charged to the block cache, which evicts blocks
  // to make room for them. A charge is reserved in 256 KiB dummy entries
  // per table factory, so every DB shares this one factory: one per DB
  // would reserve up to 256 KiB more per DB than it uses. File metadata is
  // not charged: RocksDB reserves it per column family, the same rounding
  // with no way to share, for a few hundred bytes per file.
  rocksdb::BlockBasedTableOptions opts = t->rep;
  rocksdb::CacheEntryRoleOptions on{rocksdb::CacheEntryRoleOptions::Decision::kEnabled};
  opts.cache_usage_options.options_overrides[rocksdb::CacheEntryRole::kBlockBasedTableReader] = on;
  opts.cache_usage_options.options_overrides[rocksdb::CacheEntryRole::kFilterConstruction] = on;
  std::shared_ptr<rocksdb::TableFactory> tables(rocksdb::NewBlockBasedTableFactory(opts));
  // allow_stall: writers wait while the memtables of all DBs are at the
  // limit, until flushes free memory; membudget.go flushes idle DBs' memtables
  // so that a stalled writer always has a flush to wait for.
  return new eddy_wbm_t{std::make_shared<rocksdb::WriteBufferManager>(buffer_size, c->rep, true), tables};
}

int eddy_wbm_attach(void* options, size_t expect_write_buffer_size, eddy_wbm_t* wbm) {
  auto* o = static_cast<rocksdb_options_t*>(options);
  if (o == nullptr || wbm == nullptr || o->rep.write_buffer_size != expect_write_buffer_size) {
    return -1;
  }
  o->rep.write_buffer_manager = wbm->rep;
  o->rep.table_factory = wbm->tables;
  return 0;
}

void eddy_wbm_set_buffer_size(eddy_wbm_t* wbm, size_t buffer_size) { wbm->rep->SetBufferSize(buffer_size); }

size_t eddy_wbm_buffer_size(eddy_wbm_t* wbm) { return wbm->rep->buffer_size(); }

size_t eddy_wbm_memory_usage(eddy_wbm_t* wbm) { return wbm->rep->memory_usage(); }

size_t eddy_wbm_mutable_memory_usage(eddy_wbm_t* wbm) { return wbm->rep->mutable_memtable_memory_usage(); }

void eddy_wbm_destroy(eddy_wbm_t* wbm) { delete wbm; }
}
