// Storage and the caching allocator: freed blocks are kept by size and handed out again, so a training
// step reuses the previous step's buffers instead of paying malloc/mmap and page faults each time.
#include "nerve/tensor/storage.h"

#include <cstdlib>
#include <mutex>
#include <new>

#include "nerve/core/error.h"
#include <unordered_map>
#include <vector>

namespace nerve {

namespace {
constexpr size_t kAlign = 64;
constexpr size_t kMaxCached = size_t{1} << 30;  // cap on bytes kept for reuse

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  size_t cached = 0;
  ~Cache() {
    for (auto& [sz, v] : free_blocks)
      for (void* p : v) std::free(p);
  }
};
Cache& cache() {
  static Cache* c = new Cache();  // leaked on purpose: storages may die during static destruction
  return *c;
}
size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

void* cached_alloc(size_t nbytes) {
  size_t sz = round_up(nbytes ? nbytes : 1);
  Cache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(sz);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.cached -= sz;
      return p;
    }
  }
  void* p = std::aligned_alloc(kAlign, sz);
  if (!p) {  // give the cached blocks back to the system and try once more
    allocator_empty_cache();
    p = std::aligned_alloc(kAlign, sz);
  }
  NERVE_CHECK(p, "tensor allocation: out of memory: cannot allocate ", nbytes, " bytes (", nbytes / double(1 << 30),
              " GiB)");
  return p;
}

void cached_free(void* p, size_t nbytes) {
  size_t sz = round_up(nbytes ? nbytes : 1);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.cached + sz > kMaxCached) {
    std::free(p);
    return;
  }
  c.free_blocks[sz].push_back(p);
  c.cached += sz;
}
}  // namespace

Storage::Storage(size_t nbytes) : data_(cached_alloc(nbytes)), nbytes_(nbytes) {}

Storage::Storage(void* data, size_t nbytes, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), owned_(false), deleter_(std::move(deleter)) {}

std::shared_ptr<Storage> Storage::meta(size_t nbytes) {
  auto s = std::make_shared<Storage>(nullptr, nbytes, std::function<void(void*)>());
  s->device_ = Device::meta;
  return s;
}

Storage::~Storage() {
  if (owned_)
    cached_free(data_, nbytes_);
  else if (deleter_)
    deleter_(data_);
}

size_t allocator_cached_bytes() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().cached;
}

void allocator_empty_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [sz, v] : c.free_blocks)
    for (void* p : v) std::free(p);
  c.free_blocks.clear();
  c.cached = 0;
}

}  // namespace nerve
