#include <algorithm>
#include <cstring>

#include "fqvit/core/error.h"
#include "fqvit/io/dataset.h"
#include "fqvit/io/image.h"
#include "fqvit/io/preprocess.h"

namespace fqvit {

BatchLoader::BatchLoader(std::vector<LabeledImage> images, PreprocessConfig config, int batch_size, int threads,
                         int prefetch, BatchContent content)
    : images_(std::move(images)),
      config_(config),
      batch_size_(static_cast<size_t>(std::max(1, batch_size))),
      prefetch_(static_cast<size_t>(std::max(1, prefetch))),
      num_batches_((images_.size() + batch_size_ - 1) / batch_size_),
      content_(content) {
  for (int i = 0; i < std::max(1, threads); ++i) workers_.emplace_back([this] { worker(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

Batch BatchLoader::load_batch(size_t index) const {
  const size_t begin = index * batch_size_;
  const size_t end = std::min(images_.size(), begin + batch_size_);
  const int64_t side = config_.input_size;
  const int64_t plane = 3 * side * side;
  Batch batch;
  if (content_ == BatchContent::kPixels) {
    batch.pixels.reserve(static_cast<size_t>(end - begin) * static_cast<size_t>(plane));
    for (size_t i = begin; i < end; ++i) {
      try {
        const RgbImage crop = resize_and_crop(decode_image_file(images_[i].path), config_);
        const size_t at = batch.pixels.size(), hw = static_cast<size_t>(side * side);
        batch.pixels.resize(at + 3 * hw);
        for (size_t j = 0; j < hw; ++j) {  // HWC -> CHW
          for (size_t c = 0; c < 3; ++c) batch.pixels[at + c * hw + j] = crop.pixels[3 * j + c];
        }
        batch.indices.push_back(i);
        batch.labels.push_back(images_[i].label);
      } catch (const Error& e) {
        batch.errors.push_back(e.what());
      }
    }
    return batch;
  }
  Tensor all({static_cast<int64_t>(end - begin), 3, side, side});
  for (size_t i = begin; i < end; ++i) {
    try {
      // Decoded images are packed in order; a corrupt one leaves no gap.
      preprocess_image(decode_image_file(images_[i].path), config_,
                       all.data() + static_cast<int64_t>(batch.indices.size()) * plane);
      batch.indices.push_back(i);
      batch.labels.push_back(images_[i].label);
    } catch (const Error& e) {
      batch.errors.push_back(e.what());
    }
  }
  if (batch.indices.size() == end - begin) {
    batch.images = std::move(all);
  } else {  // corrupt images were left out: shrink to the ones that decoded
    batch.images = Tensor({static_cast<int64_t>(batch.indices.size()), 3, side, side});
    if (!batch.indices.empty()) {
      std::memcpy(batch.images.data(), all.data(), static_cast<size_t>(batch.images.numel()) * sizeof(float));
    }
  }
  return batch;
}

void BatchLoader::worker() {
  for (;;) {
    size_t index;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] {
        return stopping_ || (next_to_claim_ < num_batches_ && next_to_claim_ < next_to_deliver_ + prefetch_);
      });
      if (stopping_) return;
      index = next_to_claim_++;
    }
    Batch batch = load_batch(index);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.emplace(index, std::move(batch));
    }
    cv_.notify_all();
    std::lock_guard<std::mutex> lock(mutex_);
    if (next_to_claim_ >= num_batches_) return;
  }
}

bool BatchLoader::next(Batch* batch) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (next_to_deliver_ >= num_batches_) return false;
  cv_.wait(lock, [&] { return done_.count(next_to_deliver_) != 0; });
  auto it = done_.find(next_to_deliver_);
  *batch = std::move(it->second);
  done_.erase(it);
  ++next_to_deliver_;
  lock.unlock();
  cv_.notify_all();
  return true;
}

}  // namespace fqvit
