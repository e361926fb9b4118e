// A dense, row-major float32 tensor that owns 64-byte aligned storage (one AVX-512 line), so that kernels may use
// aligned loads on row starts whose byte offset is a multiple of 64.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace fqvit {

using Shape = std::vector<int64_t>;

int64_t shape_numel(const Shape& shape);
std::string shape_to_string(const Shape& shape);  // "[8, 3, 224, 224]"

// Frees tensor storage; knows the allocation's size so that large blocks can be recycled (tensor.cc).
struct TensorStorageDeleter {
  size_t bytes = 0;
  void operator()(float* p) const;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(Shape shape);  // zero-filled
  Tensor(Shape shape, float fill);
  // Storage left uninitialized, for outputs that a kernel overwrites completely (saves a memset and its page
  // faults on every intermediate of a forward pass).
  static Tensor uninitialized(Shape shape);

  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  const Shape& shape() const { return shape_; }
  int64_t dim(int axis) const;  // negative axes count from the end
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t numel() const { return numel_; }
  bool empty() const { return numel_ == 0; }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  float& operator[](int64_t i) { return data_.get()[i]; }
  float operator[](int64_t i) const { return data_.get()[i]; }

  // Same storage, new shape with the same element count.
  void reshape(Shape shape);

 private:
  Shape shape_;
  int64_t numel_ = 0;
  std::unique_ptr<float[], TensorStorageDeleter> data_;
};

}  // namespace fqvit
