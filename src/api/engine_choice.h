// The engine an API call runs when the caller names none.
#pragma once

#include <string>

namespace fqvit::api {

// "fp32" for a checkpoint directory; for a quantized model file "int" when this build has the integer executor,
// else "fake".
std::string default_engine(const std::string& model_path);

}  // namespace fqvit::api
