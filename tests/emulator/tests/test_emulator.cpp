// The emulator's own tests: each feature the project's kernels rely on, and each fault the
// emulator must report instead of passing by luck or hanging.
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <curand_kernel.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cub/device/device_radix_sort.cuh>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "emulator_kernels.cuh"
#include "mma.h"

namespace {

template <class T>
class Device {
 public:
  explicit Device(std::size_t count) : count_(count) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)), cudaSuccess);
  }
  explicit Device(const std::vector<T>& host) : Device(host.size()) { upload(host); }
  ~Device() { cudaFree(data_); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  T* get() const { return data_; }
  void upload(const std::vector<T>& host) {
    ASSERT_EQ(cudaMemcpy(data_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  std::vector<T> download() const {
    std::vector<T> host(count_);
    EXPECT_EQ(cudaMemcpy(host.data(), data_, count_ * sizeof(T), cudaMemcpyDeviceToHost),
              cudaSuccess);
    return host;
  }

 private:
  T* data_ = nullptr;
  std::size_t count_;
};

// Every test starts and ends with a clean device: a fault sticks until cudaDeviceReset.
class Emulator : public ::testing::Test {
 protected:
  void SetUp() override { cudaDeviceReset(); }
  void TearDown() override { cudaDeviceReset(); }

  // The launch error of a faulty kernel, its sticky error, and the diagnosis in its message.
  static void expect_fault(cudaError_t launched, const std::string& needle) {
    EXPECT_EQ(launched, cudaErrorLaunchFailure);
    EXPECT_EQ(cudaGetLastError(), cudaErrorLaunchFailure) << "the fault must stick";
    const std::string text = cudaGetErrorString(cudaErrorLaunchFailure);
    EXPECT_NE(text.find("kernel 'faulty'"), std::string::npos) << text;
    EXPECT_NE(text.find(needle), std::string::npos) << text;
  }
};

TEST_F(Emulator, SharedMemoryAndBarriersAcrossManyBlocks) {
  const int blocks = 37, n = 200;
  std::vector<float> in(static_cast<std::size_t>(blocks * n));
  std::iota(in.begin(), in.end(), 0.0f);
  Device<float> din(in), dout(in.size());
  ASSERT_EQ(emu_test::reverse_blocks(din.get(), dout.get(), blocks, n, nullptr), cudaSuccess);
  const std::vector<float> out = dout.download();
  for (int b = 0; b < blocks; ++b)
    for (int i = 0; i < n; ++i)
      ASSERT_EQ(out[static_cast<std::size_t>(b * n + i)],
                in[static_cast<std::size_t>(b * n + n - 1 - i)]);
}

TEST_F(Emulator, WarpShufflesFollowCudasDefinitions) {
  Device<double> out(64);
  for (int which = 0; which < 8; ++which) {
    ASSERT_EQ(emu_test::warp_ops(which, out.get(), nullptr), cudaSuccess) << which;
    const std::vector<double> got = out.download();
    for (int t = 0; t < 64; ++t) {
      const int lane = t % 32, base = t - lane;
      double want = 0;
      switch (which) {
        case 0:
          want = lane + 1 < 32 ? t + 1 : t;
          break;
        case 1:
          want = lane >= 3 ? t - 3 : t;
          break;
        case 2:
          want = base + (lane ^ 5);
          break;
        case 3:
          want = base + 7;
          break;
        case 4:
          want = lane % 16 + 2 < 16 ? t + 2 : t;
          break;
        case 5:
          want = 0;
          break;  // below
        case 6:
          want = lane % 16 + 1 < 16 ? t + 1 : t;
          break;
        case 7:
          want = 0.25 + (lane < 16 ? t + 16 : t);
          break;
      }
      if (which == 5) {  // the lanes of this warp whose thread index is a multiple of 3
        unsigned mask = 0;
        for (int l = 0; l < 32; ++l)
          if ((base + l) % 3 == 0) mask |= 1u << l;
        want = mask;
      }
      ASSERT_EQ(got[static_cast<std::size_t>(t)], want) << "op " << which << ", thread " << t;
    }
  }
}

// Each fault of faulty(which, ...) is reported, naming the kernel and what went wrong; none hangs.
struct Fault {
  const char* name;
  int which;
  const char* diagnosis;
};

class Faults : public Emulator, public ::testing::WithParamInterface<Fault> {};

TEST_P(Faults, AreReportedNotHung) {
  Device<float> out(64);
  expect_fault(emu_test::faulty(GetParam().which, out.get(), nullptr), GetParam().diagnosis);
}

INSTANTIATE_TEST_SUITE_P(
    Emulator, Faults,
    ::testing::Values(Fault{"ThreadThatReturnsBeforeABarrier", 0, "returned"},
                      Fault{"ThreadsAtDifferentBarriers", 1, "different barriers"},
                      Fault{"ShuffleOverAnInactiveLane", 2, "inactive lanes"},
                      Fault{"MaskThatLeavesOutTheCaller", 3, "leaves out its own lane"},
                      Fault{"ShuffleFromALaneOutsideTheMask", 4, "not in the mask"},
                      Fault{"BarrierAgainstAWarpOperation", 5, "__syncthreads"}),
    [](const ::testing::TestParamInfo<Fault>& info) { return std::string(info.param.name); });

TEST_F(Emulator, AFaultSticksUntilReset) {
  Device<float> out(64);
  ASSERT_EQ(emu_test::faulty(0, out.get(), nullptr), cudaErrorLaunchFailure);
  float host = 0;
  EXPECT_EQ(cudaMemcpy(&host, out.get(), sizeof host, cudaMemcpyDeviceToHost),
            cudaErrorLaunchFailure);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorLaunchFailure);
  EXPECT_EQ(cudaDeviceReset(), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(&host, out.get(), sizeof host, cudaMemcpyDeviceToHost), cudaSuccess);
}

TEST_F(Emulator, UnwrittenSharedMemoryAndFreshAllocationsReadAsPoison) {
  Device<float> out(128);
  ASSERT_EQ(emu_test::read_unwritten_shared(out.get(), nullptr), cudaSuccess);
  const std::vector<float> got = out.download();
  for (int t = 0; t < 64; ++t) {
    EXPECT_TRUE(std::isnan(got[static_cast<std::size_t>(2 * t)])) << t;
    EXPECT_EQ(got[static_cast<std::size_t>(2 * t + 1)], -1.0f) << t;
  }
  Device<float> fresh(10);
  for (float value : fresh.download())
    EXPECT_TRUE(std::isnan(value));
}

TEST_F(Emulator, BlocksRunInAShuffledOrderThatTheSeedRepeats) {
  const int blocks = 64;
  Device<unsigned> counter(std::vector<unsigned>{0}), order(blocks);
  ASSERT_EQ(emu_test::block_order(blocks, counter.get(), order.get(), nullptr), cudaSuccess);
  std::vector<unsigned> first = order.download(), sorted = first;
  std::sort(sorted.begin(), sorted.end());
  for (unsigned b = 0; b < static_cast<unsigned>(blocks); ++b)
    ASSERT_EQ(sorted[b], b) << "every block runs once";
  std::vector<unsigned> identity(blocks);
  std::iota(identity.begin(), identity.end(), 0u);
  EXPECT_NE(first, identity);
  counter.upload({0});
  ASSERT_EQ(emu_test::block_order(blocks, counter.get(), order.get(), nullptr), cudaSuccess);
  EXPECT_NE(order.download(), first) << "each launch draws its own order";
}

TEST_F(Emulator, AtomicsAddUp) {
  Device<int> counter(std::vector<int>{0});
  Device<float> sum(std::vector<float>{0.0f});
  ASSERT_EQ(emu_test::atomics(9, counter.get(), sum.get(), nullptr), cudaSuccess);
  EXPECT_EQ(counter.download()[0], 9 * 128);
  EXPECT_EQ(sum.download()[0], 9 * 128 * 0.5f);
}

TEST_F(Emulator, CoordinatesOfAThreeDimensionalLaunch) {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  const int threads = 3 * 2 * 2 * 4 * 3 * 2;
  Device<int> out(static_cast<std::size_t>(threads) * 12);
  ASSERT_EQ(emu_test::coordinates(grid, block, out.get(), nullptr), cudaSuccess);
  const std::vector<int> got = out.download();
  int index = 0;
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned tz = 0; tz < 2; ++tz)
          for (unsigned ty = 0; ty < 3; ++ty)
            for (unsigned tx = 0; tx < 4; ++tx, ++index) {
              const std::vector<int> want{int(tx), int(ty), int(tz), int(bx), int(by), int(bz),
                                          4,       3,       2,       3,       2,       2};
              const std::vector<int> mine(got.begin() + 12 * index, got.begin() + 12 * index + 12);
              ASSERT_EQ(mine, want) << "thread " << index;
            }
}

TEST_F(Emulator, InvalidConfigurationsAreLaunchErrors) {
  Device<int> out(1);
  EXPECT_EQ(emu_test::coordinates(dim3(1), dim3(1025), out.get(), nullptr),
            cudaErrorInvalidConfiguration);
  EXPECT_EQ(emu_test::coordinates(dim3(1, 65536), dim3(1), out.get(), nullptr),
            cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaErrorInvalidConfiguration);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess) << "a launch error does not stick";
}

TEST_F(Emulator, HostPointerArgumentIsAFault) {
  std::vector<int> host(1000);
  EXPECT_EQ(emu_test::coordinates(dim3(1), dim3(1), host.data(), nullptr), cudaErrorLaunchFailure);
  EXPECT_NE(std::string(cudaGetErrorString(cudaErrorLaunchFailure)).find("not device memory"),
            std::string::npos);
}

TEST_F(Emulator, CopiesAreCheckedAgainstTheAllocations) {
  Device<float> d(4);
  std::vector<float> host(8, 1.0f);
  EXPECT_EQ(cudaMemcpy(d.get(), host.data(), 5 * sizeof(float), cudaMemcpyHostToDevice),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(d.get(), host.data(), 4 * sizeof(float), cudaMemcpyDeviceToHost),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(host.data(), d.get(), 4 * sizeof(float), cudaMemcpyHostToDevice),
            cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemset(d.get() + 1, 0, 4 * sizeof(float)), cudaErrorInvalidValue);
  EXPECT_EQ(cudaFree(host.data()), cudaErrorInvalidValue);
  EXPECT_EQ(cudaMemcpy(d.get(), host.data(), 4 * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
}

class Capture : public Emulator {
 protected:
  void SetUp() override {
    Emulator::SetUp();
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess);
  }
  void TearDown() override {
    cudaStreamDestroy(stream_);
    Emulator::TearDown();
  }
  // Ends the capture and expects it to have been invalidated.
  void expect_invalidated() {
    cudaGraph_t graph = nullptr;
    EXPECT_EQ(cudaStreamEndCapture(stream_, &graph), cudaErrorStreamCaptureInvalidated);
    EXPECT_EQ(graph, nullptr);
    cudaGetLastError();
  }
  cudaStream_t stream_ = nullptr;
};

TEST_F(Capture, GraphReplaysTheCapturedWorkWithItsArguments) {
  Device<int> value(std::vector<int>{0});
  int step = 5;
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(emu_test::add(value.get(), step, stream_), cudaSuccess);
  step = 100;  // arguments were copied at capture
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(stream_, &graph), cudaSuccess);
  EXPECT_EQ(value.download()[0], 0) << "captured work does not run";
  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(cudaGraphLaunch(exec, stream_), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  EXPECT_EQ(value.download()[0], 15);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}

TEST_F(Capture, AGraphCountsOneNodeForEachLaunchAndCopy) {
  Device<int> value(std::vector<int>{0});
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal), cudaSuccess);
  ASSERT_EQ(emu_test::add(value.get(), 1, stream_), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(value.get(), 0, sizeof(int), stream_), cudaSuccess);
  ASSERT_EQ(emu_test::add(value.get(), 2, stream_), cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamEndCapture(stream_, &graph), cudaSuccess);
  std::size_t count = 0;
  EXPECT_EQ(cudaGraphGetNodes(graph, nullptr, &count), cudaSuccess);
  EXPECT_EQ(count, 3u);
  cudaGraphNode_t nodes[3] = {};
  EXPECT_EQ(cudaGraphGetNodes(graph, nodes, &count), cudaErrorNotSupported);
  cudaGetLastError();
  cudaGraphDestroy(graph);
}

TEST_F(Capture, AllocationDuringCaptureIsRefused) {
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal), cudaSuccess);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 16), cudaErrorStreamCaptureUnsupported);
  expect_invalidated();
}

TEST_F(Capture, FreeAndSynchronousCopiesDuringCaptureAreRefused) {
  Device<float> d(4);
  float host[4] = {};
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(host, d.get(), sizeof host, cudaMemcpyDeviceToHost),
            cudaErrorStreamCaptureUnsupported);
  EXPECT_EQ(cudaFree(d.get()), cudaErrorStreamCaptureUnsupported);
  expect_invalidated();
}

TEST_F(Capture, SynchronizingTheCapturingStreamIsRefused) {
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaErrorStreamCaptureUnsupported);
  expect_invalidated();
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaErrorStreamCaptureUnsupported);
  expect_invalidated();
}

TEST_F(Capture, CopiesWithPageableHostMemoryAreRefused) {
  Device<float> d(4);
  float host[4] = {};
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(host, d.get(), sizeof host, cudaMemcpyDeviceToHost, stream_),
            cudaErrorStreamCaptureUnsupported);
  expect_invalidated();
  float* pinned = nullptr;
  ASSERT_EQ(cudaMallocHost(reinterpret_cast<void**>(&pinned), sizeof host), cudaSuccess);
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(cudaMemcpyAsync(pinned, d.get(), sizeof host, cudaMemcpyDeviceToHost, stream_),
            cudaSuccess);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(stream_, &graph), cudaSuccess);
  cudaGraphDestroy(graph);
  cudaFreeHost(pinned);
}

TEST_F(Capture, LegacyStreamWorkWhileABlockingStreamCapturesIsRefused) {
  cudaStream_t blocking = nullptr;
  ASSERT_EQ(cudaStreamCreate(&blocking), cudaSuccess);
  Device<int> value(std::vector<int>{0});
  ASSERT_EQ(cudaStreamBeginCapture(blocking, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(emu_test::add(value.get(), 1, nullptr), cudaErrorStreamCaptureImplicit);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(blocking, &graph), cudaErrorStreamCaptureInvalidated);
  cudaGetLastError();
  // A non-blocking stream creates no implicit dependency: the legacy stream may run.
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(emu_test::add(value.get(), 1, nullptr), cudaSuccess);
  EXPECT_EQ(cudaStreamEndCapture(stream_, &graph), cudaSuccess);
  cudaGraphDestroy(graph);
  cudaStreamDestroy(blocking);
}

TEST_F(Capture, RelaxedModeAllowsAllocationButNotSynchronization) {
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), cudaSuccess);
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, 16), cudaSuccess);
  EXPECT_EQ(cudaFree(p), cudaSuccess);
  EXPECT_EQ(cudaStreamSynchronize(stream_), cudaErrorStreamCaptureUnsupported);
  expect_invalidated();
}

TEST_F(Capture, ThreadLocalCaptureOnAnotherThreadDoesNotForbidThisOne) {
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), cudaSuccess);
  cudaError_t other = cudaErrorUnknown;
  std::thread([&] {
    void* p = nullptr;
    other = cudaMalloc(&p, 16);
    cudaFree(p);
  }).join();
  EXPECT_EQ(other, cudaSuccess);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(cudaStreamEndCapture(stream_, &graph), cudaSuccess);
  cudaGraphDestroy(graph);
}

TEST_F(Capture, NonBlockingFlagIsKept) {
  unsigned flags = 99;
  ASSERT_EQ(cudaStreamGetFlags(stream_, &flags), cudaSuccess);
  EXPECT_EQ(flags, cudaStreamNonBlocking);
}

TEST_F(Emulator, RadixSortIsStableOnTheChosenBits) {
  const std::vector<unsigned> keys{5, 0x105, 3, 0x203, 5, 1};
  const std::vector<unsigned> values{0, 1, 2, 3, 4, 5};
  Device<unsigned> kin(keys), kout(keys.size()), vin(values), vout(values.size());
  std::size_t bytes = 0;
  ASSERT_EQ(cub::DeviceRadixSort::SortPairs(nullptr, bytes, kin.get(), kout.get(), vin.get(),
                                            vout.get(), 6, 0, 8),
            cudaSuccess);
  Device<unsigned char> temp(bytes);
  ASSERT_EQ(cub::DeviceRadixSort::SortPairs(temp.get(), bytes, kin.get(), kout.get(), vin.get(),
                                            vout.get(), 6, 0, 8),
            cudaSuccess);
  EXPECT_EQ(vout.download(), (std::vector<unsigned>{5, 2, 3, 0, 1, 4}));  // by the low byte, stable
  std::size_t too_few = bytes - 1;
  EXPECT_EQ(cub::DeviceRadixSort::SortPairs(temp.get(), too_few, kin.get(), kout.get(), vin.get(),
                                            vout.get(), 6),
            cudaErrorInvalidValue);
}

TEST_F(Emulator, ReferenceSgemmIsTheDefinition) {
  // Column-major A (2 x 3) and B (3 x 2): C = A^T-free product, then C = A B with transposes.
  const std::vector<float> a{1, 2, 3, 4, 5, 6}, b{1, 0, -1, 2, 1, 0};
  Device<float> da(a), db(b), dc(4);
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  const float one = 1.0f, zero = 0.0f;
  ASSERT_EQ(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, 2, 2, 3, &one, da.get(), 2, db.get(), 3,
                        &zero, dc.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  // A = [1 3 5; 2 4 6], B = [1 2; 0 1; -1 0]: C = [-4 5; -4 8] column-major {-4, -4, 5, 8}.
  EXPECT_EQ(dc.download(), (std::vector<float>{-4, -4, 5, 8}));
  ASSERT_EQ(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_T, 2, 2, 3, &one, db.get(), 3, da.get(), 2,
                        &zero, dc.get(), 2),
            CUBLAS_STATUS_SUCCESS);
  EXPECT_EQ(dc.download(), (std::vector<float>{-4, 5, -4, 8}));  // (A B)^T
  cublasDestroy(handle);
}

// Salmon et al.'s known-answer vectors for Philox4x32-10 (Random123's kat_vectors).
TEST_F(Emulator, CurandPhiloxMatchesTheKnownAnswers) {
  using cuda_emu::curand::philox4x32_10;
  const auto words = [](uint4 v) { return std::vector<unsigned>{v.x, v.y, v.z, v.w}; };
  EXPECT_EQ(words(philox4x32_10({0, 0, 0, 0}, {0, 0})),
            (std::vector<unsigned>{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(words(philox4x32_10({~0u, ~0u, ~0u, ~0u}, {~0u, ~0u})),
            (std::vector<unsigned>{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(words(philox4x32_10({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                                {0xa4093822, 0x299f31d0})),
            (std::vector<unsigned>{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

// curand_init's counter: subsequence in the high 64 bits, offset / 4 in the low, offset % 4 the
// position within a block; drawn in a kernel.
TEST_F(Emulator, CurandInitPlacesSubsequenceAndOffsetInTheCounter) {
  const std::uint64_t seed = 0x299f31d0a4093822ull;
  const std::vector<unsigned long long> sub{0, 0x0370734413198a2eull, 7, 7};
  const std::vector<unsigned long long> offset{0, 4ull * 0x0000000105a308d3ull, 40, 42};
  Device<unsigned long long> dsub(sub), doff(offset);
  Device<unsigned> out(16);
  ASSERT_EQ(emu_test::curand_words(seed, dsub.get(), doff.get(), 4, out.get(), nullptr),
            cudaSuccess);
  const std::vector<unsigned> got = out.download();
  const uint2 key{0xa4093822u, 0x299f31d0u};
  using cuda_emu::curand::philox4x32_10;
  const uint4 first = philox4x32_10({0, 0, 0, 0}, key);
  const uint4 second = philox4x32_10({0x05a308d3u, 1u, 0x13198a2eu, 0x03707344u}, key);
  const uint4 block10 = philox4x32_10({10, 0, 7, 0}, key),
              block11 = philox4x32_10({11, 0, 7, 0}, key);
  EXPECT_EQ(std::vector<unsigned>(got.begin(), got.begin() + 4),
            (std::vector<unsigned>{first.x, first.y, first.z, first.w}));
  EXPECT_EQ(std::vector<unsigned>(got.begin() + 4, got.begin() + 8),
            (std::vector<unsigned>{second.x, second.y, second.z, second.w}));
  EXPECT_EQ(std::vector<unsigned>(got.begin() + 8, got.begin() + 12),
            (std::vector<unsigned>{block10.x, block10.y, block10.z, block10.w}));
  EXPECT_EQ(std::vector<unsigned>(got.begin() + 12, got.begin() + 16),
            (std::vector<unsigned>{block10.z, block10.w, block11.x, block11.y}));
}

TEST_F(Emulator, EventsTimeTheWork) {
  cudaEvent_t start = nullptr, end = nullptr;
  ASSERT_EQ(cudaEventCreate(&start), cudaSuccess);
  ASSERT_EQ(cudaEventCreate(&end), cudaSuccess);
  Device<float> in(std::vector<float>(256 * 200, 1.0f)), out(256 * 200);
  ASSERT_EQ(cudaEventRecord(start, nullptr), cudaSuccess);
  ASSERT_EQ(emu_test::reverse_blocks(in.get(), out.get(), 256, 200, nullptr), cudaSuccess);
  ASSERT_EQ(cudaEventRecord(end, nullptr), cudaSuccess);
  ASSERT_EQ(cudaEventSynchronize(end), cudaSuccess);
  float ms = -1;
  ASSERT_EQ(cudaEventElapsedTime(&ms, start, end), cudaSuccess);
  EXPECT_GT(ms, 0.0f);
  cudaEventDestroy(start);
  cudaEventDestroy(end);
}

TEST(EmulatorDeathTest, AKernelThatNeverEndsMeetsTheTimeLimit) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        cuda_emu::set_time_limit(0.5);
        int* flag = nullptr;
        cudaMalloc(reinterpret_cast<void**>(&flag), sizeof(int));
        cudaMemset(flag, 0, sizeof(int));
        emu_test::spin(flag, nullptr);
      },
      "kernel 'spin' has run for .* past the limit");
}

// What the hardware computes from TF32 operands (low 13 mantissa bits dropped), exactly, then the
// sum in FP32 in k order: the emulator's definition, against which a layout-free kernel is exact.
std::vector<float> tf32_product(const std::vector<float>& a, const std::vector<float>& b,
                                const std::vector<float>& c, int k, bool a_col_major) {
  const auto tf32 = [](float v) {
    return std::bit_cast<float>(std::bit_cast<unsigned>(v) & 0xFFFFE000u);
  };
  std::vector<float> d(256);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      float sum = c[static_cast<std::size_t>(i * 16 + j)];
      for (int p = 0; p < k; ++p) {
        const float av = a_col_major ? a[static_cast<std::size_t>(p * 16 + i)]
                                     : a[static_cast<std::size_t>(i * k + p)];
        sum = std::fma(tf32(nvcuda::wmma::__float_to_tf32(av)),
                       tf32(b[static_cast<std::size_t>(p * 16 + j)]), sum);
      }
      d[static_cast<std::size_t>(i * 16 + j)] = sum;
    }
  return d;
}

std::vector<float> uniform_values(std::size_t n, unsigned seed) {
  std::vector<float> values(n);
  unsigned state = seed;
  for (float& v : values) {
    state = state * 1664525u + 1013904223u;
    v = static_cast<float>(state >> 8) / 16777216.0f * 2.0f - 1.0f;
  }
  return values;
}

TEST_F(Emulator, WmmaProductsAreTf32ProductsWhateverTheFragmentLayout) {
  for (const bool a_col_major : {false, true}) {
    const int k = 24;
    const auto a = uniform_values(16 * k, 1), b = uniform_values(k * 16, 2),
               c = uniform_values(256, 3);
    Device<float> da(a), db(b), dc(c), dd(256);
    ASSERT_EQ(
        emu_test::wmma_product(da.get(), db.get(), dc.get(), k, a_col_major, dd.get(), nullptr),
        cudaSuccess);
    const std::vector<float> got = dd.download(), want = tf32_product(a, b, c, k, a_col_major);
    for (std::size_t i = 0; i < got.size(); ++i)
      ASSERT_EQ(got[i], want[i]) << "element " << i << (a_col_major ? ", a column-major" : "");
    // TF32 is not FP32: the full-precision product differs.
    double largest = 0;
    for (int i = 0; i < 16; ++i)
      for (int j = 0; j < 16; ++j) {
        double exact = c[static_cast<std::size_t>(i * 16 + j)];
        for (int p = 0; p < k; ++p)
          exact += static_cast<double>(a_col_major ? a[static_cast<std::size_t>(p * 16 + i)]
                                                   : a[static_cast<std::size_t>(i * k + p)]) *
                   b[static_cast<std::size_t>(p * 16 + j)];
        largest = std::max(largest, std::abs(exact - got[static_cast<std::size_t>(i * 16 + j)]));
      }
    EXPECT_GT(largest, 1e-5);
    EXPECT_LT(largest, 1e-2);
  }
}

TEST_F(Emulator, Tf32RoundsToNearestTiesAway) {
  using nvcuda::wmma::__float_to_tf32;
  EXPECT_EQ(__float_to_tf32(1.0f), 1.0f);
  EXPECT_EQ(__float_to_tf32(1.0f + 0x1p-11f), 1.0f + 0x1p-10f);  // a tie: away from zero
  EXPECT_EQ(__float_to_tf32(-(1.0f + 0x1p-11f)), -(1.0f + 0x1p-10f));
  EXPECT_EQ(__float_to_tf32(1.0f + 0x1p-12f), 1.0f);
  EXPECT_TRUE(std::isnan(__float_to_tf32(std::nanf(""))));
  EXPECT_EQ(__float_to_tf32(INFINITY), INFINITY);
}

TEST_F(Emulator, WmmaMisuseIsAFault) {
  Device<float> matrix(256 + 8);
  expect_fault(emu_test::wmma_faulty(0, matrix.get(), nullptr), "is not 256-bit aligned");
  cudaDeviceReset();
  expect_fault(emu_test::wmma_faulty(1, matrix.get(), nullptr),
               "leading dimension 6 is not a positive multiple of 16 bytes");
  cudaDeviceReset();
  expect_fault(emu_test::wmma_faulty(2, matrix.get(), nullptr), "wmma::load_matrix_sync at ");
  cudaDeviceReset();
  expect_fault(emu_test::wmma_faulty(3, matrix.get(), nullptr), "disagree");
  cudaDeviceReset();
  ASSERT_EQ(emu_test::wmma_faulty(4, matrix.get(), nullptr), cudaSuccess);
  const std::vector<float> stored = matrix.download();
  for (int i = 0; i < 256; ++i)
    ASSERT_TRUE(std::isnan(stored[static_cast<std::size_t>(i)]))
        << "an unloaded accumulator, " << i;
}

TEST_F(Emulator, AKernelThatAssumesTheFragmentLayoutComputesGarbage) {
  const auto b = uniform_values(256, 4);
  Device<float> db(b), dd(256);
  ASSERT_EQ(emu_test::wmma_assumed_layout(db.get(), dd.get(), nullptr), cudaSuccess);
  const std::vector<float> d = dd.download();
  int wrong = 0;
  for (std::size_t i = 0; i < d.size(); ++i)
    wrong += std::abs(d[i] - b[i]) > 1e-2f ? 1 : 0;
  EXPECT_GT(wrong, 100) << "the identity built on an assumed layout must not reproduce b";
}

TEST_F(Emulator, DynamicSharedMemoryFollowsSm90sLimits) {
  const int blocks = 3;
  for (const int n : {100, 20000}) {  // 400 bytes; 80,000 bytes (above 48 KB)
    std::vector<float> in(static_cast<std::size_t>(blocks * n));
    std::iota(in.begin(), in.end(), 0.0f);
    Device<float> din(in), dout(in.size());
    if (n * 4 > (48 << 10)) {
      EXPECT_EQ(emu_test::reverse_dynamic(din.get(), dout.get(), blocks, n, nullptr),
                cudaErrorInvalidValue)
          << "more than 48 KB before cudaFuncSetAttribute";
      EXPECT_EQ(emu_test::allow_reverse_dynamic((227 << 10) + 4), cudaErrorInvalidValue);
      ASSERT_EQ(emu_test::allow_reverse_dynamic(n * 4), cudaSuccess);
    }
    ASSERT_EQ(emu_test::reverse_dynamic(din.get(), dout.get(), blocks, n, nullptr), cudaSuccess);
    const std::vector<float> out = dout.download();
    for (int blk = 0; blk < blocks; ++blk)
      for (int i = 0; i < n; ++i)
        ASSERT_EQ(out[static_cast<std::size_t>(blk * n + i)],
                  in[static_cast<std::size_t>(blk * n + n - 1 - i)]);
  }
}

}  // namespace
