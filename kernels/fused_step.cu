// The fused training step (see fused_step.cuh): a block of four warps takes 32-row tiles of one
// model through every layer forward, the loss, and every layer backward, with all activations in
// shared memory (kept for the backward pass) and every product on the tensor cores.
//
// Napkin math, default network (30-128-64-2x8-64-128-30, padded to 32-128-64-32-16-64-128-32) at
// batch 4096: 3 products per layer of 2 * 4096 * ~27.6 K padded weights = ~0.68 GFLOP a step
// (1.0x TF32 issue; 3x for tf32x3); shared memory 33 KB of activations per 32-row tile, 128 tiles;
// each block reads its ~110 KB of packed weights through L1/L2 once per tile, and reads and writes
// its ~110 KB of gradient partials once per tile; the guard's sum reads blocks x 110 KB. Launches:
// this kernel, the loss sums, the guard (adding the partials), Adam (refreshing the packed
// parameters), the counters: 5 a step.
//
// Pointers (device memory the CUDA engine owns; declared in fused_step.cuh, FusedStepArgs): the
// packed parameters [models][packed_size] (fused_layout.hpp: every width padded to 16, the heads
// stacked), the batch [models][rows][features] or the resident rows [slots][rows][features] in the
// step's order, eps [models][rows][latent_stride] or drawn inside, the gradient partials
// [models][blocks][packed_size], the loss parts [models][rows] (double).
// CPU reference: the CPU engine's step (host/cpu/cpu_model.cpp); each test states its tolerance
// per math mode. Tests: tests/gpu/test_gpu_fused.cpp
// (GpuFused.OneStepMatchesTheCpuEngineOnTenShapes, GpuFused.TwentyStepsTrackTheCpuEngine,
// GpuFused.FiveModelsTrainEpochsAsTheCpuEngineTrainsEachAlone).
#include <mma.h>

#include <algorithm>
#include <climits>
#include <string>

#include "cuda_check.cuh"
#include "curand_philox.cuh"
#include "fused_step.cuh"
#include "launch.cuh"
#include "vaead/philox.hpp"
#include "vaead/vae_elements.hpp"

namespace vaead::cuda {
namespace {

namespace wmma = nvcuda::wmma;
using Accumulator = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
constexpr int kWarps = kFusedThreads / kWarp;
constexpr int kRowTiles = kFusedRows / 16;

// Element (row, col) of a matrix stored with leading dimension ld in the given layout.
template <class Layout>
__device__ long long at(int row, int col, int ld) {
  if constexpr (std::is_same_v<Layout, wmma::row_major>)
    return static_cast<long long>(row) * ld + col;
  else
    return static_cast<long long>(col) * ld + row;
}

template <class Fragment>
__device__ void round_to_tf32(Fragment& f) {
  for (int e = 0; e < f.num_elements; ++e)
    f.x[e] = wmma::__float_to_tf32(f.x[e]);
}

// small = the TF32 remainder of each element, f = its TF32 part.
template <class Fragment>
__device__ void split_tf32(Fragment& f, Fragment& small) {
  for (int e = 0; e < f.num_elements; ++e) {
    const float big = wmma::__float_to_tf32(f.x[e]);
    small.x[e] = wmma::__float_to_tf32(f.x[e] - big);
    f.x[e] = big;
  }
}

// sum += A (16 x k) B (k x 16), k a multiple of 8; a points at A(0, 0), b at B(0, 0).
template <TensorMath Math, class ALayout, class BLayout>
__device__ void multiply(Accumulator& sum, const float* a, int lda, const float* b, int ldb,
                         int k) {
  for (int k0 = 0; k0 < k; k0 += 8) {
    wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, ALayout> a_part, a_small;
    wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, BLayout> b_part, b_small;
    wmma::load_matrix_sync(a_part, a + at<ALayout>(0, k0, lda), static_cast<unsigned>(lda));
    wmma::load_matrix_sync(b_part, b + at<BLayout>(k0, 0, ldb), static_cast<unsigned>(ldb));
    if constexpr (Math == TensorMath::tf32x3) {
      split_tf32(a_part, a_small);
      split_tf32(b_part, b_small);
      wmma::mma_sync(sum, a_small, b_part, sum);  // the small terms first
      wmma::mma_sync(sum, a_part, b_small, sum);
    } else {
      round_to_tf32(a_part);
      round_to_tf32(b_part);
    }
    wmma::mma_sync(sum, a_part, b_part, sum);
  }
}

// A [rows][ld] block of shared memory.
struct Tile {
  float* data;
  int ld;
  __device__ float& operator()(int row, int col) const {
    return data[static_cast<long long>(row) * ld + col];
  }
};

class Network {
 public:
  __device__ Network(const FusedShape& shape, float* shared) : shape_(shape), shared_(shared) {}
  __device__ Tile buffer(int index) const {
    return Tile{shared_ + shape_.buffer_offset[index], shape_.buffer_ld[index]};
  }
  __device__ Tile x() const { return buffer(0); }
  __device__ Tile output(int layer) const { return buffer(1 + layer); }
  __device__ Tile z() const { return buffer(shape_.layers + 1); }
  __device__ Tile eps() const { return buffer(shape_.layers + 2); }
  __device__ Tile gradient(int which) const { return buffer(shape_.layers + 3 + which); }
  __device__ Tile input(int layer) const {
    if (layer == 0) return x();
    return layer == shape_.heads + 1 ? z() : output(layer - 1);
  }
  __device__ bool relu_after(int layer) const {
    return layer != shape_.heads && layer != shape_.layers - 1;
  }
  __device__ bool input_is_relu(int layer) const { return layer > 0 && relu_after(layer - 1); }

 private:
  const FusedShape& shape_;
  float* shared_;
};

// out [rows][width] = a [rows][depth] B for the tile's rows, where B (depth x width) is a layer's
// weight W [out][in] (leading dimension ld_w = in) seen in `WeightLayout`: column-major is W^T (the
// forward pass: depth = in, width = out), row-major is W itself (the input gradient: depth = out,
// width = in). Each warp owns whole 16 x 16 output tiles.
template <TensorMath Math, class WeightLayout>
__device__ void product(Tile a, const float* w, int ld_w, int depth, int width, Tile out) {
  const int warp = static_cast<int>(threadIdx.x) / kWarp;
  for (int t = warp; t < kRowTiles * (width / 16); t += kWarps) {
    const int r0 = (t % kRowTiles) * 16, c0 = (t / kRowTiles) * 16;
    Accumulator sum;
    wmma::fill_fragment(sum, 0.0f);
    multiply<Math, wmma::row_major, WeightLayout>(sum, &a(r0, 0), a.ld,
                                                  w + at<WeightLayout>(0, c0, ld_w), ld_w, depth);
    wmma::store_matrix_sync(&out(r0, c0), sum, static_cast<unsigned>(out.ld), wmma::mem_row_major);
  }
}

// partial_w (+)= gout^T in and partial_b (+)= the column sums of gout, over the tile's rows.
template <TensorMath Math>
__device__ void parameter_gradient(Tile gout, Tile in, int k, int n, bool first, float* partial_w,
                                   float* partial_b) {
  const int warp = static_cast<int>(threadIdx.x) / kWarp;
  const int col_tiles = k / 16;
  for (int t = warp; t < (n / 16) * col_tiles; t += kWarps) {
    const int o0 = (t / col_tiles) * 16, i0 = (t % col_tiles) * 16;
    float* target = partial_w + static_cast<long long>(o0) * k + i0;
    Accumulator sum;
    if (first)
      wmma::fill_fragment(sum, 0.0f);
    else
      wmma::load_matrix_sync(sum, target, static_cast<unsigned>(k), wmma::mem_row_major);
    // A(o, r) = gout[r][o]: column-major; B(r, i) = in[r][i]: row-major.
    multiply<Math, wmma::col_major, wmma::row_major>(sum, &gout(0, o0), gout.ld, &in(0, i0), in.ld,
                                                     kFusedRows);
    wmma::store_matrix_sync(target, sum, static_cast<unsigned>(k), wmma::mem_row_major);
  }
  for (int o = static_cast<int>(threadIdx.x); o < n; o += kFusedThreads) {
    float sum = 0.0f;
    for (int r = 0; r < kFusedRows; ++r)
      sum += gout(r, o);
    partial_b[o] = first ? sum : partial_b[o] + sum;
  }
}

// The tile's x (zeros beyond the features and the batch) and eps (zeros beyond the model's
// latents and the batch).
__device__ void load_inputs(const FusedShape& shape, const FusedStepArgs& args, int model, int row0,
                            const Network& net) {
  const Tile x = net.x();
  const int width = shape.in[0];
  const int data_slot = args.slots.data == nullptr ? 0 : args.slots.data[model];
  const int order_slot = args.slots.order == nullptr ? 0 : args.slots.order[model];
  const long long start =
      args.batch == nullptr
          ? static_cast<long long>(args.state[model].step_in_epoch) * args.batch_size
          : 0;
  for (int e = static_cast<int>(threadIdx.x); e < kFusedRows * width; e += kFusedThreads) {
    const int r = e / width, j = e % width, row = row0 + r;
    float value = 0.0f;
    if (row < args.rows && j < shape.features) {
      if (args.batch != nullptr) {
        value = args.batch[(static_cast<long long>(model) * args.rows + row) * shape.features + j];
      } else {
        const unsigned source = args.order[order_slot * args.slots.order_stride + start + row];
        value = args.data[data_slot * args.slots.data_stride +
                          static_cast<long long>(source) * shape.features + j];
      }
    }
    x(r, j) = value;
  }
  const Tile eps = net.eps();
  const int latent = args.table.latent[model];
  const int quads = shape.latent / 4;
  const DeviceRng rng{args.table.seed[model], RandomStream::reparameterization};
  for (int e = static_cast<int>(threadIdx.x); e < kFusedRows * quads; e += kFusedThreads) {
    const int r = e / quads, quad = e % quads, row = row0 + r;
    double normals[4] = {0.0, 0.0, 0.0, 0.0};
    const bool drawn = row < args.rows && 4 * quad < latent;
    if (drawn && args.eps == nullptr)
      rng.normal4(static_cast<std::uint32_t>(quad), static_cast<std::uint32_t>(row),
                  static_cast<std::uint32_t>(args.state[model].global_step), normals);
    for (int i = 0; i < 4; ++i) {
      const int l = 4 * quad + i;
      float value = 0.0f;
      if (drawn && l < latent)
        value =
            args.eps != nullptr
                ? args.eps[(static_cast<long long>(model) * args.rows + row) * shape.latent_stride +
                           l]
                : static_cast<float>(normals[i]);
      eps(r, l) = value;
    }
  }
}

__device__ void bias_and_relu(Tile out, const float* bias, int n, bool relu) {
  for (int e = static_cast<int>(threadIdx.x); e < kFusedRows * n; e += kFusedThreads) {
    const int r = e / n, c = e % n;
    const float value = out(r, c) + bias[c];
    out(r, c) = relu && value < 0.0f ? 0.0f : value;  // NaN stays NaN, as on the CPU
  }
}

__device__ void reparameterize(const FusedShape& shape, const FusedStepArgs& args,
                               const Network& net) {
  const Tile heads = net.output(shape.heads), eps = net.eps(), z = net.z();
  for (int e = static_cast<int>(threadIdx.x); e < kFusedRows * shape.latent; e += kFusedThreads) {
    const int r = e / shape.latent, l = e % shape.latent;
    const float logvar =
        elements::clamp_logvar(heads(r, shape.latent + l), args.logvar_low, args.logvar_high);
    z(r, l) = elements::reparameterized(heads(r, l), logvar, eps(r, l));
  }
}

// Each row's reconstruction error and KL term, and the loss's gradient w.r.t. x_hat (zero beyond
// the features and the batch) into gradient buffer 0.
__device__ void loss(const FusedShape& shape, const FusedStepArgs& args, int model, int row0,
                     const Network& net) {
  const Tile x = net.x(), x_hat = net.output(shape.layers - 1), heads = net.output(shape.heads);
  const Tile gradient = net.gradient(0);
  const int width = shape.in[0];
  const float two_over_rows = static_cast<float>(2.0 / args.rows);
  for (int e = static_cast<int>(threadIdx.x); e < kFusedRows * width; e += kFusedThreads) {
    const int r = e / width, j = e % width;
    const bool inside = row0 + r < args.rows && j < shape.features;
    gradient(r, j) = inside ? two_over_rows * (x_hat(r, j) - x(r, j)) : 0.0f;
  }
  const int r = static_cast<int>(threadIdx.x);
  if (r < kFusedRows && row0 + r < args.rows) {
    double squared_error = 0.0, kl_sum = 0.0;
    for (int j = 0; j < shape.features; ++j) {
      const double diff = static_cast<double>(x(r, j)) - x_hat(r, j);
      squared_error += diff * diff;
    }
    for (int l = 0; l < args.table.latent[model]; ++l)
      kl_sum += elements::kl_term(
          heads(r, l),
          elements::clamp_logvar(heads(r, shape.latent + l), args.logvar_low, args.logvar_high));
    const long long index = static_cast<long long>(model) * args.rows + row0 + r;
    args.reconstruction[index] = squared_error;
    args.kl[index] = -0.5 * kl_sum;
  }
}

// The heads' gradient [rows][2 L] from dLoss/dz and the KL term (zero beyond the engine's
// latents and the batch).
__device__ void reparameterize_gradient(const FusedShape& shape, const FusedStepArgs& args,
                                        int model, int row0, const Network& net, Tile grad_z,
                                        Tile grad_heads) {
  const Tile heads = net.output(shape.heads), eps = net.eps();
  const float kl_scale = static_cast<float>(args.state[model].kl_weight / args.rows);
  for (int e = static_cast<int>(threadIdx.x); e < kFusedRows * shape.latent; e += kFusedThreads) {
    const int r = e / shape.latent, l = e % shape.latent;
    float grad_mu = 0.0f, grad_logvar = 0.0f;
    if (row0 + r < args.rows && l < shape.latent_stride) {
      const float raw = heads(r, shape.latent + l);
      const float logvar = elements::clamp_logvar(raw, args.logvar_low, args.logvar_high);
      const bool inside = raw >= args.logvar_low && raw <= args.logvar_high;
      grad_mu = grad_z(r, l) + kl_scale * heads(r, l);
      grad_logvar = elements::logvar_gradient(grad_z(r, l), eps(r, l), logvar, kl_scale, inside);
    }
    grad_heads(r, l) = grad_mu;
    grad_heads(r, shape.latent + l) = grad_logvar;
  }
}

__device__ void relu_mask(Tile gradient, Tile relu_output, int n) {
  for (int e = static_cast<int>(threadIdx.x); e < kFusedRows * n; e += kFusedThreads) {
    const int r = e / n, c = e % n;
    if (!(relu_output(r, c) > 0.0f)) gradient(r, c) = 0.0f;
  }
}

template <TensorMath Math>
__global__ void __launch_bounds__(kFusedThreads)
    fused_step_kernel(FusedShape shape, FusedStepArgs args) {
  const int model = static_cast<int>(blockIdx.y);
  const int block = static_cast<int>(blockIdx.x);
  const Network net(shape, dynamic_shared<float>());
  const float* packed = args.packed + model * shape.packed_size;
  float* partial = args.partials + (static_cast<long long>(model) * args.blocks_per_model + block) *
                                       shape.packed_size;
  const int tiles = (args.rows + kFusedRows - 1) / kFusedRows;
  bool first = true;
  for (int tile = block; tile < tiles; tile += args.blocks_per_model, first = false) {
    const int row0 = tile * kFusedRows;
    load_inputs(shape, args, model, row0, net);
    __syncthreads();
    for (int layer = 0; layer < shape.layers; ++layer) {
      const int k = shape.in[layer], n = shape.out[layer];
      product<Math, wmma::col_major>(net.input(layer), packed + shape.weight[layer], k, k, n,
                                     net.output(layer));
      __syncthreads();
      bias_and_relu(net.output(layer), packed + shape.bias[layer], n, net.relu_after(layer));
      __syncthreads();
      if (layer == shape.heads) {
        reparameterize(shape, args, net);
        __syncthreads();
      }
    }
    loss(shape, args, model, row0, net);
    __syncthreads();
    int current = 0;  // the gradient buffer holding dLoss/d(this layer's output)
    for (int layer = shape.layers - 1; layer >= 0; --layer) {
      const int k = shape.in[layer], n = shape.out[layer];
      const Tile gout = net.gradient(current), gin = net.gradient(1 - current);
      parameter_gradient<Math>(gout, net.input(layer), k, n, first, partial + shape.weight[layer],
                               partial + shape.bias[layer]);
      if (layer == 0) break;
      product<Math, wmma::row_major>(gout, packed + shape.weight[layer], k, n, k, gin);
      __syncthreads();
      if (layer == shape.heads + 1) {
        reparameterize_gradient(shape, args, model, row0, net, gin, gout);  // heads' into gout
      } else {
        if (net.input_is_relu(layer)) relu_mask(gin, net.input(layer), k);
        current = 1 - current;
      }
      __syncthreads();
    }
    __syncthreads();  // the next tile overwrites x and the activations
  }
}

__global__ void pack_kernel(const float* params, std::size_t count, const long long* packed_index,
                            long long packed_size, float* packed) {
  const std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x;
  const long long model = blockIdx.y;
  if (i >= count) return;
  packed[model * packed_size + packed_index[i]] = params[model * count + i];
}

template <TensorMath Math>
constexpr auto fused_kernel() {
  return fused_step_kernel<Math>;
}

}  // namespace

int fused_blocks_per_model(int rows) {
  const int tiles = (rows + kFusedRows - 1) / kFusedRows;
  // Two tiles a block, at most 128 blocks a model: batch 4096 runs on 64 blocks of one model, a
  // sweep's models add theirs. The rows alone decide it: a model's sums (hence its bits) are the
  // same beside any number of others and on any GPU.
  return std::clamp((tiles + 1) / 2, 1, 128);
}

void prepare_fused_step(const FusedShape& shape, TensorMath math) {
  if (math == TensorMath::tf32)
    allow_dynamic_shared("fused_step", fused_kernel<TensorMath::tf32>(), shape.shared_bytes);
  else
    allow_dynamic_shared("fused_step", fused_kernel<TensorMath::tf32x3>(), shape.shared_bytes);
}

void fused_step(const FusedShape& shape, TensorMath math, const FusedStepArgs& args, int models,
                cudaStream_t stream) {
  check_argument(models >= 1 && models <= 65535, "fused_step: 1 to 65535 models");
  check_argument(args.blocks_per_model >= 1 &&
                     args.blocks_per_model <= (args.rows + kFusedRows - 1) / kFusedRows,
                 "fused_step: every block needs a tile (blocks " +
                     std::to_string(args.blocks_per_model) + ", rows " + std::to_string(args.rows) +
                     ")");
  const dim3 grid(static_cast<unsigned>(args.blocks_per_model), static_cast<unsigned>(models));
  if (math == TensorMath::tf32)
    launch_shared("fused_step (tf32)", fused_kernel<TensorMath::tf32>(), grid, kFusedThreads,
                  shape.shared_bytes, stream, shape, args);
  else
    launch_shared("fused_step (3xtf32)", fused_kernel<TensorMath::tf32x3>(), grid, kFusedThreads,
                  shape.shared_bytes, stream, shape, args);
}

void pack_parameters(const float* params, std::size_t count, const long long* packed_index,
                     long long packed_size, int models, float* packed, cudaStream_t stream) {
  launch("pack_parameters", pack_kernel,
         dim3(blocks_for(static_cast<long long>(count)), static_cast<unsigned>(models)), kBlock,
         stream, params, count, packed_index, packed_size, packed);
}

}  // namespace vaead::cuda
