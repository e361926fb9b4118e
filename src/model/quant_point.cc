#include "fqvit/model/quant_point.h"

#include "fqvit/model/swin_names.h"
#include "fqvit/model/vit_names.h"

namespace fqvit {

// The families share model-level names only where they agree on the role (qact_input, patch_embed.qact, qact2,
// act_out), so the first table that knows the name decides.
QuantRole quant_point_role(const std::string& name) {
  QuantRole role = QuantRole::kActivation;
  if (vit_point_role(name, &role) || swin_point_role(name, &role)) return role;
  return QuantRole::kActivation;
}

}  // namespace fqvit
