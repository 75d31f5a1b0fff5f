// The network described once: named buffers of rows and the operations over them, in the order
// forward and backward take them. Built from the parameter layout; both engines walk it (the CPU
// model with plain loops, the CUDA engine with kernels), and size their buffers from it. Adding a
// layer kind is one PlanOp, a line in make_plan, and its implementation in each engine.
#pragma once

#include <string>
#include <vector>

#include "vaead/model/model.hpp"

namespace vaead {

// A buffer of [rows][width] values (per model, in the CUDA engine).
struct PlanBuffer {
  std::string name;  // "encoder.0", "mu", "grad.a", ...
  int width = 0;
};

enum class PlanOp {
  // Forward.
  dense,           // output = input W^T + b (then ReLU when `relu`)               `layer`
  reparameterize,  // logvar = clamp(logvar_raw); z = mu + exp(logvar / 2) * eps (z = mu: no eps)
  // Backward.
  dense_params_grad,    // the layer's W and b gradients from `gradient` (dL/d output) and `input`
  dense_input_grad,     // output (+)= gradient W, then 0 where the `mask` ReLU output is <= 0
  reparameterize_grad,  // grad_mu and grad_logvar from `gradient` (dL/dz), mu, logvar and eps
};

struct PlanStep {
  PlanOp op = PlanOp::dense;
  LinearLayout layer;    // dense ops
  int layer_index = -1;  // its place in ParameterLayout::layers() (buffer order)
  int input = -1;        // buffers, by index into NetworkPlan::buffers; -1: none
  int output = -1;
  int gradient = -1;
  int mask = -1;
  bool relu = false;        // dense
  bool accumulate = false;  // dense_input_grad: add to the output instead of replacing it
  // The next step is the same op on a layer of the same shape that reads the same input (the
  // latent heads): an engine may take both as one product of twice the width. For
  // dense_input_grad the pair writes one output: this step's sum plus the next's, under the
  // next's mask.
  bool with_next = false;
};

struct NetworkPlan {
  std::vector<PlanBuffer> buffers;
  // The buffers the engines fill or read outside the steps: the batch and the noise going in, the
  // latent heads (the KL term), the reconstruction, and the loss's gradient with respect to it.
  int x = -1, eps = -1, mu = -1, logvar_raw = -1, logvar = -1, z = -1, x_hat = -1;
  int grad_x_hat = -1, grad_mu = -1, grad_logvar = -1;
  std::vector<PlanStep> forward;
  // After the loss has filled grad_x_hat: every parameter's gradient (the data needs none).
  std::vector<PlanStep> backward;
};

NetworkPlan make_plan(const ParameterLayout& layout);

}  // namespace vaead
