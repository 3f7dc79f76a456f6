// The cache of large CPU blocks (host_cache.h).
#include "host_cache.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <mutex>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#define NT_HOST_CACHE 1
#endif

namespace neuraltide {

namespace {
constexpr int64_t kMinBytes = int64_t(1) << 20;  // below: at::empty
constexpr int64_t kAlign = int64_t(2) << 20;      // a transparent huge page
constexpr int64_t kPage = 4096;

struct Block {
  void* ptr;
  uint64_t stamp;  // when it was returned: the oldest is freed first
};

class HostCache {
 public:
  HostCache() : limit_(default_limit()) {}

  void* acquire(int64_t bytes, int64_t* size) {
    std::lock_guard<std::mutex> lock(mutex_);
    // New blocks are rounded up to their alignment, so the waste is judged against that
    // rounded size: against `bytes` a 3.2 MB request never took the 4 MiB block it had
    // itself returned, and every call faulted in a fresh block (10x slower).
    const int64_t align = bytes >= kAlign ? kAlign : kPage;
    const int64_t rounded = (bytes + align - 1) / align * align;
    // the smallest idle block that fits, unless it wastes more than a quarter
    auto it = idle_.lower_bound(bytes);
    if (it != idle_.end() && it->first <= rounded + rounded / 4) {
      void* p = it->second.ptr;
      *size = it->first;
      idle_bytes_ -= it->first;
      idle_.erase(it);
      in_use_ += *size;
      ++hits_;
      return p;
    }
    *size = rounded;
    void* p = allocate(bytes, *size);
    if (p == nullptr) {  // out of memory: give the idle blocks back and try once more
      release_all();
      p = allocate(bytes, *size);
    }
    if (p != nullptr) {
      in_use_ += *size;
      ++misses_;
    }
    return p;
  }

  void give_back(void* p, int64_t size) {
    std::lock_guard<std::mutex> lock(mutex_);
    in_use_ -= size;
    if (limit_ == 0 || size > limit_) {
      std::free(p);
      return;
    }
    idle_.emplace(size, Block{p, ++clock_});
    idle_bytes_ += size;
    trim(limit_);
  }

  HostCacheStats stats() {
    std::lock_guard<std::mutex> lock(mutex_);
    return {idle_bytes_, in_use_, limit_, hits_, misses_};
  }

  void empty() {
    std::lock_guard<std::mutex> lock(mutex_);
    release_all();
  }

  void set_limit(int64_t bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    limit_ = bytes;
    trim(limit_);
  }

  bool enabled() {
    std::lock_guard<std::mutex> lock(mutex_);
    return limit_ > 0;
  }

 private:
  static int64_t default_limit() {
    if (const char* env = std::getenv("NEURALTIDE_HOST_CACHE_MB")) {
      char* end = nullptr;
      const long long mb = std::strtoll(env, &end, 10);
      if (end != env && *end == '\0' && mb >= 0) return int64_t(mb) << 20;
    }
#if defined(NT_HOST_CACHE) && defined(_SC_PHYS_PAGES)
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) {
      return std::min<int64_t>(int64_t(pages) * page / 8, int64_t(4) << 30);
    }
#endif
    return int64_t(1) << 30;
  }

  // A block of `size` bytes (rounded up from the `bytes` asked for). Only the huge pages that
  // `bytes` fills are advised: a huge page is resident as a whole once touched, so advising
  // the rounded tail would make up to 2 MiB per output resident that nothing uses (1.5 MiB
  // on a 12.5 MiB output: an eighth more memory).
  static void* allocate(int64_t bytes, int64_t size) {
#if defined(NT_HOST_CACHE)
    void* p = nullptr;
    const bool huge = size >= kAlign;
    if (posix_memalign(&p, size_t(huge ? kAlign : kPage), size_t(size)) != 0) return nullptr;
#if defined(MADV_HUGEPAGE)
    const int64_t whole = bytes / kAlign * kAlign;
    if (whole > 0) madvise(p, size_t(whole), MADV_HUGEPAGE);  // advice: a refusal changes nothing
#endif
    return p;
#else
    (void)bytes, (void)size;
    return nullptr;
#endif
  }

  void trim(int64_t keep) {
    while (idle_bytes_ > keep && !idle_.empty()) {
      auto oldest = std::min_element(idle_.begin(), idle_.end(), [](const auto& a,
                                                                    const auto& b) {
        return a.second.stamp < b.second.stamp;
      });
      std::free(oldest->second.ptr);
      idle_bytes_ -= oldest->first;
      idle_.erase(oldest);
    }
  }

  void release_all() { trim(0); }

  std::mutex mutex_;
  std::multimap<int64_t, Block> idle_;  // by size
  int64_t limit_;
  int64_t idle_bytes_ = 0, in_use_ = 0, hits_ = 0, misses_ = 0;
  uint64_t clock_ = 0;
};

// Never destroyed: tensors freed during interpreter shutdown still give their blocks back.
HostCache& cache() {
  static HostCache* c = new HostCache();
  return *c;
}
}  // namespace

at::Tensor cached_empty(at::IntArrayRef sizes, const at::TensorOptions& options) {
  int64_t numel = 1;
  for (const int64_t s : sizes) numel *= s;
  const int64_t bytes = numel * int64_t(c10::elementSize(c10::typeMetaToScalarType(
                                    options.dtype())));
  if (!options.device().is_cpu() || bytes < kMinBytes || !cache().enabled()) {
    return at::empty(sizes, options);
  }
  int64_t size = 0;
  void* p = cache().acquire(bytes, &size);
  if (p == nullptr) return at::empty(sizes, options);  // let torch report the failure
  return at::from_blob(
      p, sizes, [size](void* q) { cache().give_back(q, size); }, options);
}

HostCacheStats host_cache_stats() { return cache().stats(); }

void host_cache_empty() { cache().empty(); }

void host_cache_set_limit(int64_t bytes) { cache().set_limit(bytes); }

}  // namespace neuraltide
