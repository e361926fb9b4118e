// thread_scratch (thread_scratch.h): one grown-on-demand aligned block per slot and thread.
#include "kernels/thread_scratch.h"

#include <cassert>
#include <cstddef>
#include <new>

namespace fqvit::kernels {
namespace {

constexpr std::align_val_t kAlign{64};

struct Slots {
  void* data[kScratchSlots] = {};
  int64_t size[kScratchSlots] = {};
  ~Slots() {
    for (void* p : data) ::operator delete(p, kAlign);
  }
};

}  // namespace

void* thread_scratch(int slot, int64_t bytes) {
  assert(slot >= 0 && slot < kScratchSlots && bytes >= 0);
  thread_local Slots slots;
  if (slots.size[slot] < bytes) {
    ::operator delete(slots.data[slot], kAlign);
    slots.data[slot] = nullptr;
    slots.size[slot] = 0;
    slots.data[slot] = ::operator new(static_cast<std::size_t>(bytes), kAlign);
    slots.size[slot] = bytes;
  }
  return slots.data[slot];
}

}  // namespace fqvit::kernels
