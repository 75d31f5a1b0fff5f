#include "vaead/model/network_plan.hpp"

#include <utility>

namespace vaead {
namespace {

class PlanBuilder {
 public:
  explicit PlanBuilder(const ParameterLayout& layout) : layers_(layout.layers()) {}

  int buffer(std::string name, int width) {
    plan.buffers.push_back({std::move(name), width});
    return static_cast<int>(plan.buffers.size()) - 1;
  }
  PlanStep dense_step(PlanOp op, const LinearLayout& layer) const {
    PlanStep step;
    step.op = op;
    step.layer = layer;
    for (std::size_t i = 0; i < layers_.size(); ++i)
      if (layers_[i]->weight_offset == layer.weight_offset) step.layer_index = static_cast<int>(i);
    return step;
  }
  void dense(const LinearLayout& layer, int input, int output, bool relu) {
    PlanStep step = dense_step(PlanOp::dense, layer);
    step.input = input;
    step.output = output;
    step.relu = relu;
    plan.forward.push_back(step);
  }
  void params_grad(const LinearLayout& layer, int gradient, int input) {
    PlanStep step = dense_step(PlanOp::dense_params_grad, layer);
    step.gradient = gradient;
    step.input = input;
    plan.backward.push_back(step);
  }
  void input_grad(const LinearLayout& layer, int gradient, bool accumulate, int mask, int output) {
    PlanStep step = dense_step(PlanOp::dense_input_grad, layer);
    step.gradient = gradient;
    step.accumulate = accumulate;
    step.mask = mask;
    step.output = output;
    plan.backward.push_back(step);
  }

  NetworkPlan plan;

 private:
  std::vector<const LinearLayout*> layers_;
};

// The activations of the encoder's and the decoder's layers, by layer, and the last hidden one
// (the heads' input).
struct Activations {
  std::vector<int> encoder, decoder;
  int hidden = 0;
};

// Forward: encoder (ReLU after each layer), the mu and logvar heads, the noise, decoder (ReLU
// after each layer but the last).
Activations plan_forward(PlanBuilder& b, const ParameterLayout& layout) {
  const Architecture& arch = layout.architecture;
  NetworkPlan& plan = b.plan;
  Activations a;
  int input = plan.x;
  for (const LinearLayout& layer : layout.encoder) {
    a.encoder.push_back(b.buffer(layer.name, layer.out));
    b.dense(layer, input, a.encoder.back(), true);
    input = a.encoder.back();
  }
  a.hidden = input;
  plan.mu = b.buffer("mu", arch.latent_dim);
  plan.logvar_raw = b.buffer("logvar_raw", arch.latent_dim);
  plan.logvar = b.buffer("logvar", arch.latent_dim);
  plan.z = b.buffer("z", arch.latent_dim);
  b.dense(layout.mu, a.hidden, plan.mu, false);
  plan.forward.back().with_next = true;
  b.dense(layout.logvar, a.hidden, plan.logvar_raw, false);
  PlanStep reparameterize;
  reparameterize.op = PlanOp::reparameterize;
  plan.forward.push_back(reparameterize);
  input = plan.z;
  for (std::size_t d = 0; d < layout.decoder.size(); ++d) {
    const LinearLayout& layer = layout.decoder[d];
    a.decoder.push_back(b.buffer(layer.name, layer.out));
    b.dense(layer, input, a.decoder.back(), d + 1 < layout.decoder.size());
    input = a.decoder.back();
  }
  plan.x_hat = a.decoder.back();
  return a;
}

// Backward: two gradient buffers wide enough for any activation, taken in turn, and the heads'.
void plan_backward(PlanBuilder& b, const ParameterLayout& layout, const Activations& a) {
  const Architecture& arch = layout.architecture;
  NetworkPlan& plan = b.plan;
  const auto widest = static_cast<int>(layout.widest_activation());
  int gradient = b.buffer("grad.a", widest);
  int spare = b.buffer("grad.b", widest);
  plan.grad_x_hat = gradient;
  plan.grad_mu = b.buffer("grad.mu", arch.latent_dim);
  plan.grad_logvar = b.buffer("grad.logvar", arch.latent_dim);
  for (std::size_t d = layout.decoder.size(); d-- > 0;) {
    const int layer_input = d == 0 ? plan.z : a.decoder[d - 1];
    b.params_grad(layout.decoder[d], gradient, layer_input);
    b.input_grad(layout.decoder[d], gradient, false, d == 0 ? -1 : layer_input, spare);
    std::swap(gradient, spare);
  }
  PlanStep reparameterize_grad;
  reparameterize_grad.op = PlanOp::reparameterize_grad;
  reparameterize_grad.gradient = gradient;  // dL/dz
  plan.backward.push_back(reparameterize_grad);
  b.params_grad(layout.mu, plan.grad_mu, a.hidden);
  plan.backward.back().with_next = true;
  b.params_grad(layout.logvar, plan.grad_logvar, a.hidden);
  // Both heads read the last hidden layer: its gradient is the sum of theirs.
  b.input_grad(layout.mu, plan.grad_mu, false, -1, gradient);
  plan.backward.back().with_next = true;
  b.input_grad(layout.logvar, plan.grad_logvar, true, a.hidden, gradient);
  for (std::size_t e = layout.encoder.size(); e-- > 0;) {
    const int layer_input = e == 0 ? plan.x : a.encoder[e - 1];
    b.params_grad(layout.encoder[e], gradient, layer_input);
    if (e == 0) break;  // the data needs no gradient
    b.input_grad(layout.encoder[e], gradient, false, layer_input, spare);
    std::swap(gradient, spare);
  }
}

}  // namespace

NetworkPlan make_plan(const ParameterLayout& layout) {
  PlanBuilder b(layout);
  b.plan.x = b.buffer("x", layout.architecture.input_dim);
  b.plan.eps = b.buffer("eps", layout.architecture.latent_dim);
  plan_backward(b, layout, plan_forward(b, layout));
  return b.plan;
}

}  // namespace vaead
