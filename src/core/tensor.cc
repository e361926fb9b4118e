#include "fqvit/core/tensor.h"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>

namespace fqvit {
namespace {

constexpr size_t kAlignment = 64;

// Every forward pass frees its intermediates and the next one asks for the same sizes again. Blocks above glibc's
// mmap threshold (32 MiB at most) would go back to the OS each time and fault in again page by page (measured: 30%
// of a batch-100 ViT-Tiny forward), so large freed blocks are kept for reuse, up to a bound.
class LargeBlockCache {
 public:
  static LargeBlockCache& instance() {
    static auto* cache = new LargeBlockCache;  // never destroyed: tensors may outlive static destruction
    return *cache;
  }
  void* take(size_t bytes) {
    if (bytes < kMinBytes) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(bytes);
    if (it == free_.end()) return nullptr;
    void* p = it->second;
    free_.erase(it);
    cached_bytes_ -= bytes;
    return p;
  }
  // Returns false when the block is not kept (small, or the cache is full); the caller frees it.
  bool give(void* p, size_t bytes) {
    if (bytes < kMinBytes) return false;
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_bytes_ + bytes > kMaxCachedBytes) return false;
    free_.emplace(bytes, p);
    cached_bytes_ += bytes;
    return true;
  }

 private:
  static constexpr size_t kMinBytes = size_t{1} << 20;
  static constexpr size_t kMaxCachedBytes = size_t{1} << 30;
  std::mutex mutex_;
  std::multimap<size_t, void*> free_;
  size_t cached_bytes_ = 0;
};

size_t padded_bytes(int64_t count) {
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

float* allocate_floats(int64_t count) {
  if (count == 0) return nullptr;
  const size_t bytes = padded_bytes(count);
  void* p = LargeBlockCache::instance().take(bytes);
  if (p == nullptr) p = std::aligned_alloc(kAlignment, bytes);
  if (p == nullptr) throw std::bad_alloc();
  return static_cast<float*>(p);
}

}  // namespace

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw std::invalid_argument("negative dimension in shape " + shape_to_string(shape));
    n *= d;
  }
  return n;
}

std::string shape_to_string(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

void TensorStorageDeleter::operator()(float* p) const {
  if (p != nullptr && !LargeBlockCache::instance().give(p, bytes)) std::free(p);
}

Tensor::Tensor(Shape shape) : Tensor(std::move(shape), 0.0f) {}

Tensor::Tensor(Shape shape, float fill)
    : shape_(std::move(shape)), numel_(shape_numel(shape_)), data_(allocate_floats(numel_), {padded_bytes(numel_)}) {
  for (int64_t i = 0; i < numel_; ++i) data_.get()[i] = fill;
}

Tensor Tensor::uninitialized(Shape shape) {
  Tensor t;
  t.numel_ = shape_numel(shape);
  t.shape_ = std::move(shape);
  t.data_ = std::unique_ptr<float[], TensorStorageDeleter>(allocate_floats(t.numel_), {padded_bytes(t.numel_)});
  return t;
}

Tensor::Tensor(const Tensor& other)
    : shape_(other.shape_), numel_(other.numel_), data_(allocate_floats(other.numel_), {padded_bytes(other.numel_)}) {
  if (numel_ > 0) std::memcpy(data_.get(), other.data_.get(), static_cast<size_t>(numel_) * sizeof(float));
}

Tensor& Tensor::operator=(const Tensor& other) {
  if (this != &other) {
    Tensor copy(other);
    *this = std::move(copy);
  }
  return *this;
}

int64_t Tensor::dim(int axis) const {
  const int r = rank();
  if (axis < 0) axis += r;
  assert(axis >= 0 && axis < r);
  return shape_[static_cast<size_t>(axis)];
}

void Tensor::reshape(Shape shape) {
  if (shape_numel(shape) != numel_) {
    throw std::invalid_argument("cannot reshape " + shape_to_string(shape_) + " to " + shape_to_string(shape));
  }
  shape_ = std::move(shape);
}

}  // namespace fqvit
