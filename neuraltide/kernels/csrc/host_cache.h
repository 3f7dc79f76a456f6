// A cache of large CPU blocks for the fused ops' outputs (spikes, input gradients).
//
// A fresh tensor of more than a few tens of MB is a fresh mmap: the kernel maps and zeroes
// every page on first touch, which made a 420 MB output 3x slower to fill than one written
// twice (2.8 against 8.7 GB/s here). The cache keeps blocks that outputs gave back, and
// hands them to the next output of about the same size (a training loop asks for the same
// sizes every iteration), so their pages are touched once. New blocks of 2 MiB or more are
// 2 MiB-aligned, and the huge pages their request fills are advised for transparent huge
// pages (fewer, cheaper faults where the kernel allows them).
//
// Outputs below 1 MiB come from at::empty as usual (glibc serves them from its arenas; above,
// its dynamic mmap threshold and heap trimming made a training loop fault its outputs in
// again every iteration: 7.9 against 9.9 ms for a LIF layer's forward + backward). The cache
// holds at most `limit` idle bytes (default: 1/8 of physical memory, at most 4 GiB; the
// environment variable NEURALTIDE_HOST_CACHE_MB overrides it, 0 turns the cache off);
// returned blocks beyond it are freed, oldest first.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace neuraltide {

// An uninitialised CPU tensor of `sizes` and `options`' dtype; its memory comes from the
// cache when it is large, and goes back to it when the tensor is freed.
at::Tensor cached_empty(at::IntArrayRef sizes, const at::TensorOptions& options);

struct HostCacheStats {
  int64_t idle_bytes;    // held by the cache, not in use
  int64_t in_use_bytes;  // handed out, not yet returned
  int64_t limit_bytes;   // most idle bytes kept
  int64_t hits;          // requests served from the cache
  int64_t misses;        // requests that allocated a new block
};

HostCacheStats host_cache_stats();

// Frees every idle block.
void host_cache_empty();

// Sets the most idle bytes kept (>= 0; 0 turns the cache off) and frees what exceeds it.
void host_cache_set_limit(int64_t bytes);

}  // namespace neuraltide
