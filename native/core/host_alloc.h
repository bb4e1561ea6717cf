// Host (CPU) tensor memory: a caching allocator for large blocks, like the GPU's.
// Why: glibc serves blocks above its mmap threshold (at most 32 MiB) with fresh mmap()s and unmaps them on free, so
// every large activation of every training step page-faulted and had its pages zeroed by the kernel again — 18 % of a
// batch-64 cepa2024 step (perf: clear_page_erms, exc_page_fault). Blocks >= kHostCacheMin are kept on free and handed
// out again for requests of the same size (within 1/8); blocks >= 4 MiB are 2 MiB-aligned with transparent huge
// pages requested (madvise), which also cuts TLB misses in the convolutions. The cache holds at most
// MRIGAN_HOST_CACHE_MB (default: a quarter of physical memory; 0 disables it); host_empty_cache() returns it all.
// Sanitizer builds bypass the cache so that use-after-free stays detectable.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mrigan {

constexpr size_t kHostCacheMin = size_t(256) << 10;

void* host_alloc(size_t bytes);           // 64-byte aligned at least; throws mrigan::Error when out of memory
void host_free(void* p, size_t bytes);    // bytes: the size passed to host_alloc

struct HostMemStats {
  size_t live_bytes, peak_bytes, cached_bytes, cache_limit;
  int64_t system_allocs, cache_hits;      // large blocks taken from the system / from the cache
};
HostMemStats host_mem_stats();
void host_empty_cache();
void host_reset_peak();

}  // namespace mrigan
