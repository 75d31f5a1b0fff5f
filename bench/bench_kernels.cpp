// bench_kernels: vaead's dense-layer kernels against cuBLAS / cuBLASLt doing the same work, with
// achieved GFLOP/s and GB/s beside the ceilings measured in the same run (a 1 GiB device-to-device
// copy, an 8192^3 FP32 SGEMM).
//   forward:  dense_forward (bias + ReLU fused)                vs cublasLt, RELU_BIAS epilogue
//   backward: dense_backward_input (ReLU mask fused) + dense_backward_params (weight and bias
//             gradients)                                        vs cublasLt, DRELU_BGRAD epilogue
//             (input gradient through the ReLU mask and the previous layer's bias gradient) +
//             cublasSgemm for the weight gradient
// The layers are the default VAE's ReLU layers at several batch sizes. FP32 everywhere (no TF32).
// Then the element-wise kernels of a step (Adam, the fused loss, the reparameterization, scoring),
// whose ceiling is memory: their GB/s (bytes each must read and write, counted below) beside the
// copy's, for 64 models of the default VAE at each batch size.
//   bench_kernels [--rows 4096,65536] [--json FILE]
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "dense.cuh"
#include "device_buffer.cuh"
#include "device_timer.hpp"
#include "rows.cuh"
#include "vae_ops.cuh"
#include "vaead/model/model.hpp"

namespace {

using namespace vaead;
using bench::check;
using bench::seconds_per_call;
using cuda::DeviceBuffer;

void check_blas(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return;
  std::fprintf(stderr, "%s: cuBLAS status %d\n", what, static_cast<int>(status));
  std::exit(1);
}

DeviceBuffer<float> random_buffer(std::size_t count, unsigned seed) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> host(count);
  for (float& v : host)
    v = normal(generator);
  DeviceBuffer<float> buffer(count);
  buffer.upload(host.data(), count, nullptr);
  check(cudaDeviceSynchronize(), "upload");
  return buffer;
}

// One cuBLASLt matmul D (m x n, column-major, ld m) = op(A) B with an epilogue, planned once.
class LtMatmul {
 public:
  // A: k x m stored column-major with ld k, used transposed (opA = T) when `transpose_a`, else
  // m x k with ld m; B: k x n, ld k.
  LtMatmul(cublasLtHandle_t handle, int m, int n, int k, bool transpose_a,
           cublasLtEpilogue_t epilogue, const void* bias, void* aux, long long aux_ld,
           void* workspace, std::size_t workspace_bytes)
      : handle_(handle), workspace_(workspace), workspace_bytes_(workspace_bytes) {
    check_blas(cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F), "descriptor");
    const cublasOperation_t op_a = transpose_a ? CUBLAS_OP_T : CUBLAS_OP_N, op_b = CUBLAS_OP_N;
    set(CUBLASLT_MATMUL_DESC_TRANSA, op_a);
    set(CUBLASLT_MATMUL_DESC_TRANSB, op_b);
    set(CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue);
    if (bias != nullptr) set(CUBLASLT_MATMUL_DESC_BIAS_POINTER, bias);
    if (aux != nullptr) {
      set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, aux);
      set(CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, static_cast<std::int64_t>(aux_ld));
    }
    check_blas(cublasLtMatrixLayoutCreate(&a_, CUDA_R_32F, transpose_a ? k : m, transpose_a ? m : k,
                                          transpose_a ? k : m),
               "layout A");
    check_blas(cublasLtMatrixLayoutCreate(&b_, CUDA_R_32F, k, n, k), "layout B");
    check_blas(cublasLtMatrixLayoutCreate(&d_, CUDA_R_32F, m, n, m), "layout D");
    cublasLtMatmulPreference_t preference = nullptr;
    check_blas(cublasLtMatmulPreferenceCreate(&preference), "preference");
    check_blas(
        cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &workspace_bytes, sizeof(workspace_bytes)),
        "workspace preference");
    int found = 0;
    const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
        handle, desc_, a_, b_, d_, d_, preference, 1, &heuristic_, &found);
    cublasLtMatmulPreferenceDestroy(preference);
    supported_ = status == CUBLAS_STATUS_SUCCESS && found > 0;
  }
  ~LtMatmul() {
    cublasLtMatrixLayoutDestroy(a_);
    cublasLtMatrixLayoutDestroy(b_);
    cublasLtMatrixLayoutDestroy(d_);
    cublasLtMatmulDescDestroy(desc_);
  }
  LtMatmul(const LtMatmul&) = delete;
  LtMatmul& operator=(const LtMatmul&) = delete;

  bool supported() const { return supported_; }
  void run(const float* a, const float* b, float* d, cudaStream_t stream) const {
    const float one = 1.0f, zero = 0.0f;
    check_blas(cublasLtMatmul(handle_, desc_, &one, a, a_, b, b_, &zero, d, d_, d, d_,
                              &heuristic_.algo, workspace_, workspace_bytes_, stream),
               "cublasLtMatmul");
  }

 private:
  template <class T>
  void set(cublasLtMatmulDescAttributes_t attribute, const T& value) {
    check_blas(cublasLtMatmulDescSetAttribute(desc_, attribute, &value, sizeof(value)),
               "descriptor attribute");
  }
  cublasLtHandle_t handle_;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t a_ = nullptr, b_ = nullptr, d_ = nullptr;
  cublasLtMatmulHeuristicResult_t heuristic_{};
  bool supported_ = false;
  void* workspace_;
  std::size_t workspace_bytes_;
};

struct Layer {
  const char* name;
  int in, out;
};

// An element-wise kernel: the bytes it must read and write, and one launch of it.
struct ElementwiseKernel {
  const char* name;
  double bytes;
  std::function<void()> run;
};

// Each kernel's time, GB/s and share of the copy's, printed and kept in out["elementwise"].
void time_elementwise(std::span<const ElementwiseKernel> kernels, int rows, int models,
                      double copy_gbs, cudaStream_t stream, nlohmann::json& out) {
  for (const ElementwiseKernel& kernel : kernels) {
    const double seconds = seconds_per_call(kernel.run, stream);
    const double gbs = kernel.bytes / seconds / 1e9;
    std::printf("%-10s %6d %9d %10.1f %10.0f %9.0f%%\n", kernel.name, rows, models, seconds * 1e6,
                gbs, 100.0 * gbs / copy_gbs);
    out["elementwise"].push_back({{"kernel", kernel.name},
                                  {"rows", rows},
                                  {"models", models},
                                  {"seconds", seconds},
                                  {"gb_per_s", gbs},
                                  {"share_of_copy", gbs / copy_gbs}});
  }
}

// The element-wise kernels' achieved GB/s against the copy ceiling, for `models` default VAEs
// (30 features, latent 8) at `rows` rows a model.
void elementwise_table(int rows, int models, double copy_gbs, cudaStream_t stream,
                       nlohmann::json& out) {
  const int features = 30, latent = 8;
  Architecture architecture;
  architecture.input_dim = features;
  architecture.latent_dim = latent;
  const std::size_t parameters = make_layout(architecture).size;
  const auto values = static_cast<std::size_t>(rows) * static_cast<std::size_t>(models);
  auto x = random_buffer(values * features, 11), x_hat = random_buffer(values * features, 12);
  auto mu = random_buffer(values * latent, 13), logvar_raw = random_buffer(values * latent, 14);
  auto eps = random_buffer(values * latent, 15);
  DeviceBuffer<float> logvar(values * latent), z(values * latent), grad_x_hat(values * features);
  DeviceBuffer<double> reconstruction(values), kl(values);
  DeviceBuffer<float> scores(values);
  const std::size_t flat = parameters * static_cast<std::size_t>(models);
  auto params = random_buffer(flat, 16), grads = random_buffer(flat, 17);
  DeviceBuffer<float> first(flat), second(flat);
  first.zero(stream);
  second.zero(stream);
  DeviceBuffer<cuda::StepState> state(static_cast<std::size_t>(models));
  DeviceBuffer<cuda::TrainingStatus> status(static_cast<std::size_t>(models));
  cuda::reset_state(state.data(), status.data(), models, stream);
  const int total_rows = rows * models;
  const double f4 = 4.0, d8 = 8.0;
  const ElementwiseKernel kernels[] = {
      {"adam", f4 * 7.0 * static_cast<double>(flat),  // read p, g, m, v; write p, m, v
       [&] {
         cuda::adam_update(params.data(), grads.data(), first.data(), second.data(), parameters,
                           models, {1e-3, 0.9, 0.999, 1e-8}, state.data(), status.data(), stream);
       }},
      {"loss", f4 * 3.0 * values * features + f4 * 2.0 * values * latent + d8 * 2.0 * values,
       [&] {
         cuda::loss_forward_backward(x.data(), x_hat.data(), mu.data(), logvar.data(), models, rows,
                                     features, latent, nullptr, reconstruction.data(), kl.data(),
                                     grad_x_hat.data(), stream);
       }},
      {"reparam", f4 * 5.0 * values * latent,  // read mu, logvar_raw, eps; write logvar, z
       [&] {
         cuda::reparameterize_forward(mu.data(), logvar_raw.data(), eps.data(), total_rows, latent,
                                      -10.0f, 10.0f, logvar.data(), z.data(), stream);
       }},
      {"scores", f4 * 2.0 * values * features + f4 * values,  // read x, x_hat; write a score
       [&] {
         cuda::reconstruction_scores(x.data(), x_hat.data(), total_rows, features, scores.data(),
                                     nullptr, stream);
       }},
  };
  time_elementwise(kernels, rows, models, copy_gbs, stream, out);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vaead's dense kernels against cuBLAS / cuBLASLt"};
  std::vector<int> row_counts{4096, 65536};
  std::string json_path;
  app.add_option("--rows", row_counts, "Batch sizes")->delimiter(',');
  app.add_option("--json", json_path);
  CLI11_PARSE(app, argc, argv);

  cudaStream_t stream = nullptr;
  check(cudaStreamCreate(&stream), "cudaStreamCreate");
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  check_blas(cublasCreate(&blas), "cublasCreate");
  check_blas(cublasSetStream(blas, stream), "cublasSetStream");
  check_blas(cublasSetMathMode(blas, CUBLAS_PEDANTIC_MATH), "math mode");  // FP32, no TF32
  check_blas(cublasLtCreate(&lt), "cublasLtCreate");
  const std::size_t workspace_bytes = 64u << 20;
  DeviceBuffer<unsigned char> lt_workspace(workspace_bytes);
  nlohmann::json out = {{"ceilings", nlohmann::json::object()},
                        {"layers", nlohmann::json::array()}};

  // Ceilings of this run.
  const std::size_t copy_floats = (1u << 30) / sizeof(float);
  DeviceBuffer<float> copy_a(copy_floats), copy_b(copy_floats);
  const double copy_s = seconds_per_call(
      [&] {
        check(cudaMemcpyAsync(copy_b.data(), copy_a.data(), copy_floats * sizeof(float),
                              cudaMemcpyDeviceToDevice, stream),
              "copy");
      },
      stream, 5, 5);
  const double copy_gbs = 2.0 * copy_floats * sizeof(float) / copy_s / 1e9;  // read + write
  const int n = 8192;
  auto ga = random_buffer(static_cast<std::size_t>(n) * n, 1);
  auto gb = random_buffer(static_cast<std::size_t>(n) * n, 2);
  DeviceBuffer<float> gc(static_cast<std::size_t>(n) * n);
  const float one = 1.0f, zero = 0.0f;
  const double sgemm_s = seconds_per_call(
      [&] {
        check_blas(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, ga.data(), n,
                               gb.data(), n, &zero, gc.data(), n),
                   "sgemm");
      },
      stream, 3, 5);
  const double sgemm_gflops = 2.0 * n * double(n) * n / sgemm_s / 1e9;
  std::printf("ceilings: device-to-device copy %.0f GB/s (read + write), SGEMM %d^3 %.0f GFLOP/s\n",
              copy_gbs, n, sgemm_gflops);
  out["ceilings"] = {{"copy_gb_per_s", copy_gbs}, {"sgemm_gflops", sgemm_gflops}};

  const Layer layers[] = {
      {"encoder.0", 30, 128}, {"encoder.2", 128, 64}, {"decoder.0", 8, 64}, {"decoder.2", 64, 128}};
  std::printf("\n%-10s %6s %-9s %12s %10s %12s %10s %8s\n", "layer", "rows", "pass", "vaead GF/s",
              "vaead GB/s", "cuBLAS GF/s", "cuBLAS GB/s", "ratio");
  for (int rows : row_counts) {
    for (const Layer& layer : layers) {
      const int in = layer.in, out_w = layer.out;
      const auto rows_z = static_cast<std::size_t>(rows);
      auto x = random_buffer(rows_z * in, 3), w = random_buffer(std::size_t(in) * out_w, 4);
      auto bias = random_buffer(static_cast<std::size_t>(out_w), 5);
      auto gy = random_buffer(rows_z * out_w, 6);
      DeviceBuffer<float> y(rows_z * out_w), gx(rows_z * in), gw(std::size_t(in) * out_w),
          gbias(static_cast<std::size_t>(out_w)), prev_gbias(static_cast<std::size_t>(in));
      DeviceBuffer<float> workspace(cuda::dense_backward_params_workspace(rows, in, out_w));
      const double flops_forward = 2.0 * rows * double(in) * out_w;
      const double bytes_forward =
          4.0 * (rows * double(in) + double(in) * out_w + out_w + rows * double(out_w));
      const double flops_backward = 2.0 * flops_forward;
      const double bytes_backward =
          4.0 * (2.0 * rows * out_w + 3.0 * rows * double(in) + 2.0 * double(in) * out_w);

      // vaead
      const double ours_forward = seconds_per_call(
          [&] {
            cuda::dense_forward(x.data(), rows, in, w.data(), bias.data(), out_w, true, y.data(),
                                stream);
          },
          stream);
      const double ours_backward = seconds_per_call(
          [&] {
            cuda::dense_backward_input(gy.data(), rows, out_w, w.data(), in, false, x.data(),
                                       gx.data(), stream);
            cuda::dense_backward_params(gy.data(), x.data(), rows, in, out_w, gw.data(),
                                        gbias.data(), workspace.data(), stream);
          },
          stream);

      // cuBLAS(Lt), column-major views of the row-major tensors: x^T (in x rows), w^T (in x out),
      // y^T (out x rows). Forward: y^T = (w^T)^T x^T. The ReLU mask of the layer's input for the
      // backward pass comes from a RELU_AUX_BIAS forward producing an (in x rows) output.
      const long long aux_ld = (in + 127) / 128 * 128;
      DeviceBuffer<unsigned char> aux(static_cast<std::size_t>(aux_ld / 8) * rows_z);
      auto prev_w = random_buffer(std::size_t(in) * in, 7);
      DeviceBuffer<float> prev_out(rows_z * in);
      LtMatmul forward(lt, out_w, rows, in, true, CUBLASLT_EPILOGUE_RELU_BIAS, bias.data(), nullptr,
                       0, lt_workspace.data(), workspace_bytes);
      LtMatmul make_mask(lt, in, rows, in, true, CUBLASLT_EPILOGUE_RELU_AUX_BIAS, prev_gbias.data(),
                         aux.data(), aux_ld, lt_workspace.data(), workspace_bytes);
      // gx^T (in x rows) = w^T (in x out, not transposed) gy^T, through the mask; bias gradient
      // of the previous layer.
      LtMatmul backward(lt, in, rows, out_w, false, CUBLASLT_EPILOGUE_DRELU_BGRAD,
                        prev_gbias.data(), aux.data(), aux_ld, lt_workspace.data(),
                        workspace_bytes);
      double theirs_forward = 0.0, theirs_backward = 0.0;
      std::string note;
      if (forward.supported())
        theirs_forward =
            seconds_per_call([&] { forward.run(w.data(), x.data(), y.data(), stream); }, stream);
      else
        note += " (cuBLASLt: no RELU_BIAS algorithm)";
      if (make_mask.supported() && backward.supported()) {
        make_mask.run(prev_w.data(), x.data(), prev_out.data(), stream);
        theirs_backward = seconds_per_call(
            [&] {
              backward.run(w.data(), gy.data(), gx.data(), stream);
              // gw^T (in x out) = x^T (in x rows) (gy^T)^T
              check_blas(cublasSgemm(blas, CUBLAS_OP_N, CUBLAS_OP_T, in, out_w, rows, &one,
                                     x.data(), in, gy.data(), out_w, &zero, gw.data(), in),
                         "weight gradient");
            },
            stream);
      } else {
        note += " (cuBLASLt: no DRELU_BGRAD algorithm for FP32 here)";
      }
      const auto row = [&](const char* pass, double ours, double theirs, double flops,
                           double bytes) {
        const double ratio = theirs > 0 ? theirs / ours : 0.0;  // > 1: vaead is faster
        std::printf("%-10s %6d %-9s %12.0f %10.0f %12.0f %10.0f %8.2f%s\n", layer.name, rows, pass,
                    flops / ours / 1e9, bytes / ours / 1e9, theirs > 0 ? flops / theirs / 1e9 : 0.0,
                    theirs > 0 ? bytes / theirs / 1e9 : 0.0, ratio, note.c_str());
        out["layers"].push_back(
            {{"layer", layer.name},
             {"in", in},
             {"out", out_w},
             {"rows", rows},
             {"pass", pass},
             {"vaead_seconds", ours},
             {"cublas_seconds", theirs > 0 ? nlohmann::json(theirs) : nlohmann::json(nullptr)},
             {"vaead_gflops", flops / ours / 1e9},
             {"vaead_gb_per_s", bytes / ours / 1e9},
             {"cublas_over_vaead_time", ratio}});
      };
      row("forward", ours_forward, theirs_forward, flops_forward, bytes_forward);
      row("backward", ours_backward, theirs_backward, flops_backward, bytes_backward);
      std::fflush(stdout);
    }
  }
  std::printf("\nratio: cuBLAS time / vaead time (above 1: vaead is faster)\n");
  std::printf("\n%-10s %6s %9s %10s %10s %10s\n", "kernel", "rows", "models", "us", "GB/s",
              "of copy");
  out["elementwise"] = nlohmann::json::array();
  for (int rows : row_counts)
    elementwise_table(rows, 64, copy_gbs, stream, out);
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(1) << '\n';
  cublasLtDestroy(lt);
  cublasDestroy(blas);
  cudaStreamDestroy(stream);
  return 0;
}
