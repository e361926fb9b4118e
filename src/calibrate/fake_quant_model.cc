#include "fqvit/calibrate/fake_quant_model.h"

#include "fqvit/calibrate/hooks.h"

namespace fqvit {

FakeQuantModel::FakeQuantModel(std::unique_ptr<VisionModel> model, QuantState state, const std::string& origin)
    : model_(std::move(model)), state_(std::move(state)) {
  state_.check_complete(*model_, origin);
  fake_quantize_weights(*model_, state_);
}

Tensor FakeQuantModel::forward(const Tensor& images) const {
  FakeQuantHooks hooks(state_);
  return model_->forward(images, &hooks);
}

}  // namespace fqvit
