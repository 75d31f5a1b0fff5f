// `vaead info`: what this build is and what hardware it sees.
#include <iostream>
#include <thread>

#include "cli/commands.hpp"
#include "vaead/train/device.hpp"
#include "vaead/train/engine.hpp"
#include "vaead/util/version.hpp"

namespace vaead::cli {

Command add_info_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("info", "Version, build and the devices this machine has");
  return {
      command,
      [] {
        std::cout << "vaead " << version() << " (" << build_type() << " build)\n";
        std::cout << "CPU engine: " << std::thread::hardware_concurrency() << " hardware threads\n";
        const CudaStatus cuda = query_cuda();
        std::cout << "CUDA support: " << (cuda.built ? "built" : "not built") << '\n';
        if (cuda.devices.empty()) std::cout << "GPUs: " << cuda.reason << '\n';
        for (const DeviceInfo& d : cuda.devices)
          std::cout << "GPU " << d.index << ": " << d.name << ", sm_" << d.compute_major
                    << d.compute_minor << ", " << d.multiprocessors << " SMs, "
                    << d.memory_bytes / (1024.0 * 1024 * 1024) << " GiB\n";
        std::cout << "--device auto runs on: " << (cuda.devices.empty() ? "cpu" : "cuda") << '\n';
        std::cout << "CUDA training paths (--gpu-math): fp32 = tiled FP32 kernels (default); tf32, "
                     "3xtf32 = the fused tensor-core step, for networks of at most 12 layers whose "
                     "activations for 32 rows fit 227 KB of shared memory (inputs to 166 and "
                     "hidden widths to 128 fit); others train on the tiled path\n";
      },
      nullptr};
}

}  // namespace vaead::cli
