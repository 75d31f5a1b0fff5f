// The VAE's element-wise arithmetic, one code for the CPU engine (host/cpu/cpu_model.cpp) and
// the CUDA kernels (kernels/reparameterize.cu, vae_loss.cu, adam.cu): the reparameterization, the
// KL term, their gradients and Adam's update, with the project's own exp (portable_math.hpp), so
// the two engines round every element alike on every machine. T is float (both engines) or double
// (the CPU engine's reference model for gradient checks).
#pragma once

#include <cstdint>

#include "vaead/host_device.hpp"
#include "vaead/portable_math.hpp"

namespace vaead::elements {

VAEAD_HOST_DEVICE inline float exp_of(float x) {
  return portable::exp_float(x);
}
VAEAD_HOST_DEVICE inline double exp_of(double x) {
  return portable::exp(x);
}

// logvar = clamp(raw, low, high); NaN passes through (as std::clamp).
template <class T>
VAEAD_HOST_DEVICE inline T clamp_logvar(T raw, T low, T high) {
  return raw < low ? low : (high < raw ? high : raw);
}

// z = mu + exp(logvar / 2) eps.
template <class T>
VAEAD_HOST_DEVICE inline T reparameterized(T mu, T logvar, T eps) {
  return mu + exp_of(logvar / T(2)) * eps;
}

// One latent's share of the KL sum, in double: 1 + logvar - mu^2 - exp(logvar)
// (KL = -1/2 the row's sum).
VAEAD_HOST_DEVICE inline double kl_term(double mu, double logvar) {
  return 1.0 + logvar - mu * mu - portable::exp(logvar);
}

// d/dlogvar = dz eps exp(logvar/2) / 2 + w (exp(logvar) - 1) / (2 rows), 0 where clamped
// (`inside` is false); kl_scale = w / rows.
// (Computed whatever `inside` is, then selected: a loop of these has no branch, so it vectorizes.)
template <class T>
VAEAD_HOST_DEVICE inline T logvar_gradient(T grad_z, T eps, T logvar, T kl_scale, bool inside) {
  const T gradient = grad_z * eps * exp_of(logvar / T(2)) / T(2) +
                     kl_scale * (exp_of(logvar) - T(1)) / T(2);
  return inside ? gradient : T(0);
}

// Adam's per-step constants for step t (1, 2, ...), in double: lr / (1 - beta1^t) and
// sqrt(1 - beta2^t), the powers by repeated squaring (a fixed sequence of roundings).
struct AdamStep {
  double step_size;
  double bias_correction2_sqrt;
};

VAEAD_HOST_DEVICE inline AdamStep adam_step(double learning_rate, double beta1, double beta2,
                                            std::uint64_t t) {
  return {learning_rate / (1.0 - portable::power(beta1, t)),
          portable::square_root(1.0 - portable::power(beta2, t))};
}

// Adam as torch.optim.Adam computes it, for one parameter:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= step_size * m / (sqrt(v) / bias_correction2_sqrt + eps)
template <class T>
VAEAD_HOST_DEVICE inline void adam_element(T g, T beta1, T beta2, T step_size,
                                           T bias_correction2_sqrt, T epsilon, T* param,
                                           T* first_moment, T* second_moment) {
  const T m = beta1 * *first_moment + (T(1) - beta1) * g;
  const T v = beta2 * *second_moment + (T(1) - beta2) * g * g;
  *first_moment = m;
  *second_moment = v;
  *param -= step_size * m / (portable::square_root_of(v) / bias_correction2_sqrt + epsilon);
}

}  // namespace vaead::elements
