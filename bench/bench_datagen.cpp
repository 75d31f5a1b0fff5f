// bench_datagen: the device synthetic-data generator (normal rows of the seed study's latent-factor
// model, 30 features) in GB/s written, against a device-to-device copy of the same bytes (GB/s of
// bytes copied, i.e. read + write traffic / 2). Target: at least half the copy's rate.
//   bench_datagen [--rows 10000000] [--json FILE]
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "data/synthetic_params.hpp"
#include "device_buffer.cuh"
#include "device_timer.hpp"
#include "synthetic.cuh"
#include "vaead/data/synthetic.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Device synthetic-data generation against a device-to-device copy"};
  int rows = 10000000;
  std::string json_path;
  app.add_option("--rows", rows);
  app.add_option("--json", json_path);
  CLI11_PARSE(app, argc, argv);
  using vaead::bench::check;
  using vaead::bench::seconds_per_call;
  cudaStream_t stream = nullptr;
  check(cudaStreamCreate(&stream), "cudaStreamCreate");

  vaead::SyntheticConfig config;  // the seed study's generator
  const vaead::synthetic::Params p = vaead::synthetic::params_of(config);
  const std::size_t floats = static_cast<std::size_t>(rows) * p.features;
  const double bytes = static_cast<double>(floats) * sizeof(float);
  vaead::cuda::DeviceBuffer<float> loadings(static_cast<std::size_t>(p.factors) * p.features);
  vaead::cuda::DeviceBuffer<float> x(floats), copy(floats);
  vaead::cuda::synthetic_loadings(p, loadings.data(), stream);
  const double generate_s = seconds_per_call(
      [&] {
        vaead::cuda::synthetic_normal_rows(p, loadings.data(), vaead::synthetic::kTrain, rows,
                                           x.data(), stream);
      },
      stream, 3, 5);
  const double copy_s = seconds_per_call(
      [&] {
        check(cudaMemcpyAsync(copy.data(), x.data(), floats * sizeof(float),
                              cudaMemcpyDeviceToDevice, stream),
              "copy");
      },
      stream, 3, 5);
  const double generate_gbs = bytes / generate_s / 1e9, copy_gbs = bytes / copy_s / 1e9;
  std::printf("rows %d x %u features (%.2f GB): generation %.0f GB/s, copy %.0f GB/s, ratio %.2f\n",
              rows, p.features, bytes / 1e9, generate_gbs, copy_gbs, generate_gbs / copy_gbs);
  if (!json_path.empty())
    std::ofstream(json_path) << nlohmann::json{{"rows", rows},
                                               {"features", p.features},
                                               {"bytes", bytes},
                                               {"generate_gb_per_s", generate_gbs},
                                               {"copy_gb_per_s", copy_gbs},
                                               {"ratio", generate_gbs / copy_gbs}}
                                    .dump(1)
                             << '\n';
  cudaStreamDestroy(stream);
  return 0;
}
