// cuda_emu's runtime: errors, device queries, memory, streams, stream capture, graphs and events.
//
// Device memory: posix_memalign'd to 256 bytes with the exact size asked for (AddressSanitizer puts
// its red zone right after it), filled with 0xFF bytes (NaN) so that a kernel that reads memory
// nobody wrote shows it, and registered, so that copies, memsets and kernel arguments are checked
// against the allocations: a host pointer where a device pointer belongs, or a range that runs past
// an allocation, is an error as on a GPU.
//
// Capture: while a capture is active (global mode: any thread; thread-local: the capturing thread;
// relaxed: none), the calls the CUDA runtime calls unsafe are refused with
// cudaErrorStreamCaptureUnsupported and invalidate the capture (allocation, freeing, synchronous
// copies and memsets, device synchronisation); so are synchronising or querying the capturing
// stream, copies between it and pageable host memory, and work on the legacy stream while a
// blocking stream captures (cudaErrorStreamCaptureImplicit).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "emulator.hpp"

struct cuda_emu_capture;

struct CUstream_st {
  unsigned flags = cudaStreamDefault;
  cuda_emu_capture* capture = nullptr;
};

struct cuda_emu_node {
  std::string what;
  std::function<cudaError_t()> work;
};

struct CUgraph_st {
  std::vector<cuda_emu_node> nodes;
};

struct CUgraphExec_st {
  std::vector<cuda_emu_node> nodes;
};

struct CUevent_st {
  std::chrono::steady_clock::time_point when{};
  bool recorded = false;
};

struct cuda_emu_capture {
  cudaStream_t stream = nullptr;
  cudaStreamCaptureMode mode = cudaStreamCaptureModeGlobal;
  std::thread::id thread;
  CUgraph_st* graph = nullptr;
  cudaError_t invalidated = cudaSuccess;  // the error that invalidated it, or cudaSuccess
};

namespace cuda_emu {
namespace {

using Capture = cuda_emu_capture;

thread_local cudaError_t t_last_error = cudaSuccess;
std::mutex g_mutex;  // guards everything below
// sm_90: 48 KB of dynamic shared memory a block by default, up to 227 KB once a kernel opts in.
constexpr std::size_t kDefaultDynamicShared = 48 << 10, kOptInShared = 227 << 10;
std::map<const void*, std::size_t> g_dynamic_shared_limit;  // cudaFuncSetAttribute's, by kernel
cudaError_t g_sticky = cudaSuccess;
std::string g_fault_message;
std::string g_fault_text;  // cudaGetErrorString's answer while the fault sticks

struct Allocation {
  std::size_t bytes;
  bool pinned;  // cudaMallocHost: host memory the device may reach (and a capture may copy)
};
std::map<std::uintptr_t, Allocation> g_allocations;  // by first byte
std::set<cudaStream_t> g_streams;
std::vector<Capture*> g_captures;

bool is_legacy(cudaStream_t stream) {
  return stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread;
}

// The allocation holding [pointer, pointer + bytes), or null (call with g_mutex held).
const Allocation* find_allocation(const void* pointer, std::size_t bytes, bool* pinned = nullptr) {
  const auto address = reinterpret_cast<std::uintptr_t>(pointer);
  auto it = g_allocations.upper_bound(address);
  if (it == g_allocations.begin()) return nullptr;
  --it;
  if (address - it->first > it->second.bytes || bytes > it->second.bytes - (address - it->first))
    return nullptr;
  if (pinned != nullptr) *pinned = it->second.pinned;
  return &it->second;
}

bool in_device_memory(const void* pointer, std::size_t bytes) {
  bool pinned = false;
  return find_allocation(pointer, bytes, &pinned) != nullptr && !pinned;
}

bool in_pinned_memory(const void* pointer, std::size_t bytes) {
  bool pinned = false;
  return find_allocation(pointer, bytes, &pinned) != nullptr && pinned;
}

void note(const std::string& message) {
  std::fprintf(stderr, "cuda_emu: %s\n", message.c_str());
}

void invalidate(Capture* capture, cudaError_t why) {
  if (capture->invalidated == cudaSuccess) capture->invalidated = why;
}

// The capture that forbids an unsafe call on this thread now, or null (g_mutex held).
Capture* forbidding_capture() {
  const std::thread::id self = std::this_thread::get_id();
  for (Capture* capture : g_captures) {
    if (capture->mode == cudaStreamCaptureModeRelaxed) continue;
    if (capture->thread == self || capture->mode == cudaStreamCaptureModeGlobal) return capture;
  }
  return nullptr;
}

// A blocking stream that captures: the legacy stream would depend on it (g_mutex held).
Capture* blocking_capture() {
  for (Capture* capture : g_captures)
    if ((capture->stream->flags & cudaStreamNonBlocking) == 0) return capture;
  return nullptr;
}

// The runtime's "potentially unsafe" calls, refused during a capture (g_mutex held).
cudaError_t check_unsafe(const char* what) {
  if (Capture* capture = forbidding_capture()) {
    invalidate(capture, cudaErrorStreamCaptureUnsupported);
    note(std::string(what) + " during a stream capture: refused, as the CUDA runtime refuses it");
    return cudaErrorStreamCaptureUnsupported;
  }
  return cudaSuccess;
}

cudaError_t check_stream(cudaStream_t stream) {
  return is_legacy(stream) || g_streams.count(stream) != 0 ? cudaSuccess
                                                           : cudaErrorInvalidResourceHandle;
}

// The checks of a copy of `bytes` bytes (a 2-D copy passes its whole span).
cudaError_t check_copy(const char* what, void* dst, const void* src, std::size_t dst_span,
                       std::size_t src_span, cudaMemcpyKind kind) {
  const bool dst_device = in_device_memory(dst, dst_span);
  const bool src_device = in_device_memory(src, src_span);
  const auto reject = [&](const std::string& why) {
    note(std::string(what) + ": " + why);
    return cudaErrorInvalidValue;
  };
  switch (kind) {
    case cudaMemcpyHostToDevice:
      if (!dst_device) return reject("the destination is not inside one device allocation");
      if (src_device) return reject("HostToDevice from device memory");
      break;
    case cudaMemcpyDeviceToHost:
      if (!src_device) return reject("the source is not inside one device allocation");
      if (dst_device) return reject("DeviceToHost into device memory");
      break;
    case cudaMemcpyDeviceToDevice:
      if (!dst_device || !src_device)
        return reject("DeviceToDevice with a range outside the device allocations");
      break;
    case cudaMemcpyHostToHost:
      if (dst_device || src_device) return reject("HostToHost with device memory");
      break;
    case cudaMemcpyDefault:
      break;
    default:
      return cudaErrorInvalidMemcpyDirection;
  }
  return cudaSuccess;
}

// A copy on a capturing stream may not touch pageable host memory (g_mutex held).
cudaError_t check_capture_copy(cudaStream_t stream, const void* dst, const void* src,
                               std::size_t dst_span, std::size_t src_span) {
  if (is_legacy(stream) || stream->capture == nullptr) return cudaSuccess;
  const auto host_ok = [](const void* p, std::size_t n) {
    return in_device_memory(p, n) || in_pinned_memory(p, n);
  };
  if (host_ok(dst, dst_span) && host_ok(src, src_span)) return cudaSuccess;
  invalidate(stream->capture, cudaErrorStreamCaptureUnsupported);
  note("a copy between a capturing stream and pageable host memory: refused");
  return cudaErrorStreamCaptureUnsupported;
}

// Where work on `stream` goes: now, into a capture, or refused (g_mutex held).
enum class Route { run, record, refuse };
Route route(cudaStream_t stream, cudaError_t* error) {
  *error = check_stream(stream);
  if (*error != cudaSuccess) return Route::refuse;
  if (is_legacy(stream)) {
    if (Capture* capture = blocking_capture()) {
      invalidate(capture, cudaErrorStreamCaptureImplicit);
      note("work on the legacy stream while a blocking stream captures: refused");
      *error = cudaErrorStreamCaptureImplicit;
      return Route::refuse;
    }
    return Route::run;
  }
  if (stream->capture == nullptr) return Route::run;
  if (stream->capture->invalidated != cudaSuccess) {
    *error = cudaErrorStreamCaptureInvalidated;
    return Route::refuse;
  }
  return Route::record;
}

}  // namespace

cudaError_t fail(cudaError_t error) {
  if (error != cudaSuccess) t_last_error = error;
  return error;
}

cudaError_t fault(const std::string& message) {
  note(message);
  {
    const std::lock_guard lock(g_mutex);
    if (g_sticky == cudaSuccess) {
      g_sticky = cudaErrorLaunchFailure;
      g_fault_message = message;
      g_fault_text = "unspecified launch failure (cuda_emu: " + message + ")";
    }
  }
  return fail(cudaErrorLaunchFailure);
}

cudaError_t sticky_error() {
  const std::lock_guard lock(g_mutex);
  return g_sticky;
}

bool is_device_range(const void* pointer, std::size_t bytes) {
  const std::lock_guard lock(g_mutex);
  return in_device_memory(pointer, bytes);
}

cudaError_t enqueue(cudaStream_t stream, const char* what, std::function<cudaError_t()> work) {
  if (const cudaError_t sticky = sticky_error(); sticky != cudaSuccess) return fail(sticky);
  {
    const std::lock_guard lock(g_mutex);
    cudaError_t error = cudaSuccess;
    switch (route(stream, &error)) {
      case Route::refuse:
        return fail(error);
      case Route::record:
        stream->capture->graph->nodes.push_back({what, std::move(work)});
        return cudaSuccess;
      case Route::run:
        break;
    }
  }
  return fail(work());
}

cudaError_t refuse_during_capture(cudaStream_t stream, const char* what) {
  const std::lock_guard lock(g_mutex);
  if (is_legacy(stream) || stream->capture == nullptr) return cudaSuccess;
  invalidate(stream->capture, cudaErrorStreamCaptureUnsupported);
  note(std::string(what) + " on a capturing stream: refused (it synchronizes with the host)");
  return fail(cudaErrorStreamCaptureUnsupported);
}

cudaError_t launch(const LaunchConfig& config, std::vector<PointerArgument> pointers,
                   std::function<void()> thread_body) {
  const dim3 g = config.grid, b = config.block;
  const unsigned long long threads = 1ull * b.x * b.y * b.z;
  if (g.x == 0 || g.y == 0 || g.z == 0 || g.x > 2147483647u || g.y > 65535 || g.z > 65535 ||
      b.x == 0 || b.y == 0 || b.z == 0 || b.x > 1024 || b.y > 1024 || b.z > 64 || threads > 1024) {
    note("kernel '" + std::string(config.kernel) + "': invalid launch configuration");
    return fail(cudaErrorInvalidConfiguration);
  }
  if (config.dynamic_shared > kDefaultDynamicShared) {
    std::size_t limit = kDefaultDynamicShared;
    {
      const std::lock_guard lock(g_mutex);
      if (const auto it = g_dynamic_shared_limit.find(config.function);
          it != g_dynamic_shared_limit.end())
        limit = it->second;
    }
    if (config.dynamic_shared > limit) {
      note("kernel '" + std::string(config.kernel) + "': " + std::to_string(config.dynamic_shared) +
           " bytes of dynamic shared memory, more than its " + std::to_string(limit) +
           " (above 48 KB a kernel needs cudaFuncSetAttribute(MaxDynamicSharedMemorySize))");
      return fail(cudaErrorInvalidValue);
    }
  }
  std::string bad_argument;
  {
    const std::lock_guard lock(g_mutex);
    for (const PointerArgument& argument : pointers) {
      if (argument.address == nullptr || find_allocation(argument.address, 0) != nullptr) continue;
      char text[64];
      std::snprintf(text, sizeof text, "%p", argument.address);
      bad_argument = "kernel '" + std::string(config.kernel) + "': argument " +
                     std::to_string(argument.position) + " is " + text +
                     ", which is not device memory (a host pointer?)";
      break;
    }
  }
  if (!bad_argument.empty()) return fault(bad_argument);
  auto body = std::make_shared<const std::function<void()>>(std::move(thread_body));
  return enqueue(config.stream, config.kernel, [config, body] { return run_grid(config, *body); });
}

}  // namespace cuda_emu

using cuda_emu::fail;
using cuda_emu::g_mutex;

// ---- errors and the device ---------------------------------------------------------------------
cudaError_t cudaGetLastError() {
  if (const cudaError_t sticky = cuda_emu::sticky_error(); sticky != cudaSuccess) return sticky;
  const cudaError_t error = cuda_emu::t_last_error;
  cuda_emu::t_last_error = cudaSuccess;
  return error;
}

cudaError_t cudaPeekAtLastError() {
  if (const cudaError_t sticky = cuda_emu::sticky_error(); sticky != cudaSuccess) return sticky;
  return cuda_emu::t_last_error;
}

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
#define CUDA_EMU_NAME(e) \
  case e:                \
    return #e;
    CUDA_EMU_NAME(cudaSuccess)
    CUDA_EMU_NAME(cudaErrorInvalidValue)
    CUDA_EMU_NAME(cudaErrorMemoryAllocation)
    CUDA_EMU_NAME(cudaErrorInitializationError)
    CUDA_EMU_NAME(cudaErrorInvalidConfiguration)
    CUDA_EMU_NAME(cudaErrorInvalidDevicePointer)
    CUDA_EMU_NAME(cudaErrorInvalidMemcpyDirection)
    CUDA_EMU_NAME(cudaErrorInsufficientDriver)
    CUDA_EMU_NAME(cudaErrorInvalidDeviceFunction)
    CUDA_EMU_NAME(cudaErrorNoDevice)
    CUDA_EMU_NAME(cudaErrorInvalidDevice)
    CUDA_EMU_NAME(cudaErrorInvalidResourceHandle)
    CUDA_EMU_NAME(cudaErrorNotReady)
    CUDA_EMU_NAME(cudaErrorIllegalAddress)
    CUDA_EMU_NAME(cudaErrorLaunchTimeout)
    CUDA_EMU_NAME(cudaErrorLaunchFailure)
    CUDA_EMU_NAME(cudaErrorNotSupported)
    CUDA_EMU_NAME(cudaErrorStreamCaptureUnsupported)
    CUDA_EMU_NAME(cudaErrorStreamCaptureInvalidated)
    CUDA_EMU_NAME(cudaErrorStreamCaptureImplicit)
    CUDA_EMU_NAME(cudaErrorCapturedEvent)
    CUDA_EMU_NAME(cudaErrorStreamCaptureWrongThread)
    CUDA_EMU_NAME(cudaErrorUnknown)
#undef CUDA_EMU_NAME
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected";
    case cudaErrorInvalidResourceHandle:
      return "invalid resource handle";
    case cudaErrorLaunchFailure: {
      const std::lock_guard lock(g_mutex);
      if (!cuda_emu::g_fault_text.empty()) return cuda_emu::g_fault_text.c_str();
      return "unspecified launch failure";
    }
    case cudaErrorNotSupported:
      return "operation not supported";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
      return "operation failed due to a previous error during capture";
    case cudaErrorStreamCaptureImplicit:
      return "operation would make the legacy stream depend on a capturing blocking stream";
    case cudaErrorStreamCaptureWrongThread:
      return "attempt to terminate a thread-local capture sequence from another thread";
    default:
      return cudaGetErrorName(error);
  }
}

namespace {
bool no_device() {
  const char* text = std::getenv("VAEAD_EMU_NO_DEVICE");
  return text != nullptr && std::strcmp(text, "0") != 0;
}

// The device's memory: VAEAD_EMU_DEVICE_MEMORY bytes (a K, M or G suffix: KiB, MiB, GiB),
// default 16 GiB. cudaMalloc fails past it, as a GPU's does; cudaMemGetInfo reports what is left.
// Read at every call: a test may set it between engines.
std::size_t device_memory() {
  const std::size_t bytes = [] {
    const char* text = std::getenv("VAEAD_EMU_DEVICE_MEMORY");
    if (text == nullptr || *text == '\0') return std::size_t{16} << 30;
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text, &end, 10);
    const std::string unit = end;
    const int shift = unit.empty()  ? 0
                      : unit == "K" ? 10
                      : unit == "M" ? 20
                      : unit == "G" ? 30
                                    : -1;
    if (end == text || shift < 0) {
      std::fprintf(stderr,
                   "cuda_emu: VAEAD_EMU_DEVICE_MEMORY='%s' is not bytes (4096, 64K, 2M, 1G)\n",
                   text);
      std::abort();
    }
    return static_cast<std::size_t>(value) << shift;
  }();
  return bytes;
}

// Bytes of device memory allocated (call with g_mutex held).
std::size_t device_bytes_in_use() {
  std::size_t used = 0;
  for (const auto& [address, allocation] : cuda_emu::g_allocations)
    used += allocation.pinned ? 0 : allocation.bytes;
  return used;
}
}  // namespace

cudaError_t cudaMemGetInfo(std::size_t* free, std::size_t* total) {
  if (no_device()) return fail(cudaErrorNoDevice);
  const std::lock_guard lock(g_mutex);
  *total = device_memory();
  *free = *total - std::min(*total, device_bytes_in_use());
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* function, cudaFuncAttribute attribute, int value) {
  if (function == nullptr) return fail(cudaErrorInvalidDeviceFunction);
  if (attribute == cudaFuncAttributePreferredSharedMemoryCarveout)
    return value >= -1 && value <= 100 ? cudaSuccess : fail(cudaErrorInvalidValue);
  if (attribute != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 ||
      static_cast<std::size_t>(value) > cuda_emu::kOptInShared) {
    cuda_emu::note("cudaFuncSetAttribute: " + std::to_string(value) +
                   " bytes of dynamic shared memory, more than sm_90's 227 KB a block");
    return fail(cudaErrorInvalidValue);
  }
  const std::lock_guard lock(g_mutex);
  cuda_emu::g_dynamic_shared_limit[function] = static_cast<std::size_t>(value);
  return cudaSuccess;
}

cudaError_t cudaGetDeviceCount(int* count) {
  if (no_device()) {
    *count = 0;
    return fail(cudaErrorNoDevice);
  }
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
  if (no_device() || device != 0) return fail(cudaErrorInvalidDevice);
  *prop = cudaDeviceProp{};
  std::snprintf(prop->name, sizeof prop->name, "cuda_emu (CPU, threads as fibers)");
  prop->totalGlobalMem = device_memory();
  prop->sharedMemPerBlock = 48 << 10;
  prop->sharedMemPerBlockOptin = cuda_emu::kOptInShared;
  prop->warpSize = 32;
  prop->maxThreadsPerBlock = 1024;
  prop->maxThreadsDim[0] = prop->maxThreadsDim[1] = 1024;
  prop->maxThreadsDim[2] = 64;
  prop->maxGridSize[0] = 2147483647;
  prop->maxGridSize[1] = prop->maxGridSize[2] = 65535;
  prop->major = 9;
  prop->minor = 0;
  prop->multiProcessorCount = 1;
  return cudaSuccess;
}

cudaError_t cudaSetDevice(int device) {
  return device == 0 && !no_device() ? cudaSuccess : fail(cudaErrorInvalidDevice);
}

cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaDriverGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaRuntimeGetVersion(int* version) {
  *version = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t cudaDeviceSynchronize() {
  const std::lock_guard lock(g_mutex);
  if (cuda_emu::g_sticky != cudaSuccess) return fail(cuda_emu::g_sticky);
  return fail(cuda_emu::check_unsafe("cudaDeviceSynchronize"));
}

cudaError_t cudaDeviceReset() {
  const std::lock_guard lock(g_mutex);
  cuda_emu::g_sticky = cudaSuccess;
  cuda_emu::g_fault_message.clear();
  cuda_emu::g_fault_text.clear();
  cuda_emu::t_last_error = cudaSuccess;
  return cudaSuccess;
}

// ---- memory ------------------------------------------------------------------------------------
namespace {

cudaError_t allocate(void** pointer, std::size_t bytes, bool pinned, const char* what) {
  const std::lock_guard lock(g_mutex);
  if (cuda_emu::g_sticky != cudaSuccess) return fail(cuda_emu::g_sticky);
  if (const cudaError_t error = cuda_emu::check_unsafe(what); error != cudaSuccess)
    return fail(error);
  *pointer = nullptr;
  if (bytes == 0) return cudaSuccess;
  if (!pinned && bytes > device_memory() - std::min(device_memory(), device_bytes_in_use()))
    return fail(cudaErrorMemoryAllocation);  // past the device's memory
  if (posix_memalign(pointer, 256, bytes) != 0) return fail(cudaErrorMemoryAllocation);
  std::memset(*pointer, 0xFF, bytes);  // never-written memory reads as NaN
  cuda_emu::g_allocations[reinterpret_cast<std::uintptr_t>(*pointer)] = {bytes, pinned};
  return cudaSuccess;
}

cudaError_t release(void* pointer, bool pinned, const char* what) {
  const std::lock_guard lock(g_mutex);
  if (const cudaError_t error = cuda_emu::check_unsafe(what); error != cudaSuccess)
    return fail(error);
  if (pointer == nullptr) return cudaSuccess;
  const auto it = cuda_emu::g_allocations.find(reinterpret_cast<std::uintptr_t>(pointer));
  if (it == cuda_emu::g_allocations.end() || it->second.pinned != pinned) {
    cuda_emu::note(std::string(what) + ": " +
                   (pinned ? "not a cudaMallocHost" : "not a cudaMalloc") + " pointer");
    return fail(cudaErrorInvalidValue);
  }
  cuda_emu::g_allocations.erase(it);
  std::free(pointer);
  return cudaSuccess;
}

}  // namespace

cudaError_t cudaMalloc(void** pointer, std::size_t bytes) {
  return allocate(pointer, bytes, false, "cudaMalloc");
}
cudaError_t cudaFree(void* pointer) {
  return release(pointer, false, "cudaFree");
}
cudaError_t cudaMallocHost(void** pointer, std::size_t bytes) {
  return allocate(pointer, bytes, true, "cudaMallocHost");
}
cudaError_t cudaFreeHost(void* pointer) {
  return release(pointer, true, "cudaFreeHost");
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
  {
    const std::lock_guard lock(g_mutex);
    if (const cudaError_t error =
            cuda_emu::check_copy("cudaMemcpyAsync", dst, src, bytes, bytes, kind);
        error != cudaSuccess)
      return fail(error);
    if (const cudaError_t error = cuda_emu::check_capture_copy(stream, dst, src, bytes, bytes);
        error != cudaSuccess)
      return fail(error);
  }
  if (bytes == 0) return cudaSuccess;
  return cuda_emu::enqueue(stream, "cudaMemcpyAsync", [=] {
    std::memmove(dst, src, bytes);
    return cudaSuccess;
  });
}

cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind) {
  {
    const std::lock_guard lock(g_mutex);
    if (const cudaError_t error = cuda_emu::check_unsafe("cudaMemcpy"); error != cudaSuccess)
      return fail(error);
  }
  return cudaMemcpyAsync(dst, src, bytes, kind, nullptr);
}

cudaError_t cudaMemcpy2DAsync(void* dst, std::size_t dpitch, const void* src, std::size_t spitch,
                              std::size_t width, std::size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream) {
  if (width > dpitch || width > spitch) return fail(cudaErrorInvalidValue);
  if (width == 0 || height == 0) return cudaSuccess;
  const std::size_t dst_span = (height - 1) * dpitch + width;
  const std::size_t src_span = (height - 1) * spitch + width;
  {
    const std::lock_guard lock(g_mutex);
    if (const cudaError_t error =
            cuda_emu::check_copy("cudaMemcpy2DAsync", dst, src, dst_span, src_span, kind);
        error != cudaSuccess)
      return fail(error);
    if (const cudaError_t error =
            cuda_emu::check_capture_copy(stream, dst, src, dst_span, src_span);
        error != cudaSuccess)
      return fail(error);
  }
  return cuda_emu::enqueue(stream, "cudaMemcpy2DAsync", [=] {
    for (std::size_t r = 0; r < height; ++r)
      std::memmove(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch,
                   width);
    return cudaSuccess;
  });
}

cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t stream) {
  {
    const std::lock_guard lock(g_mutex);
    if (!cuda_emu::in_device_memory(dst, bytes)) {
      cuda_emu::note("cudaMemset: the range is not inside one device allocation");
      return fail(cudaErrorInvalidValue);
    }
  }
  if (bytes == 0) return cudaSuccess;
  return cuda_emu::enqueue(stream, "cudaMemsetAsync", [=] {
    std::memset(dst, value, bytes);
    return cudaSuccess;
  });
}

cudaError_t cudaMemset(void* dst, int value, std::size_t bytes) {
  {
    const std::lock_guard lock(g_mutex);
    if (const cudaError_t error = cuda_emu::check_unsafe("cudaMemset"); error != cudaSuccess)
      return fail(error);
  }
  return cudaMemsetAsync(dst, value, bytes, nullptr);
}

// ---- streams and capture -----------------------------------------------------------------------
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags) {
  if ((flags & ~cudaStreamNonBlocking) != 0) return fail(cudaErrorInvalidValue);
  const std::lock_guard lock(g_mutex);
  *stream = new CUstream_st{flags, nullptr};
  cuda_emu::g_streams.insert(*stream);
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamGetFlags(cudaStream_t stream, unsigned int* flags) {
  const std::lock_guard lock(g_mutex);
  if (const cudaError_t error = cuda_emu::check_stream(stream); error != cudaSuccess)
    return fail(error);
  *flags = cuda_emu::is_legacy(stream) ? cudaStreamDefault : stream->flags;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  const std::lock_guard lock(g_mutex);
  if (cuda_emu::is_legacy(stream) || cuda_emu::g_streams.erase(stream) == 0)
    return fail(cudaErrorInvalidResourceHandle);
  if (stream->capture != nullptr) {
    cuda_emu::note("cudaStreamDestroy of a capturing stream");
    cuda_emu::g_streams.insert(stream);
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  const std::lock_guard lock(g_mutex);
  if (cuda_emu::g_sticky != cudaSuccess) return fail(cuda_emu::g_sticky);
  if (const cudaError_t error = cuda_emu::check_stream(stream); error != cudaSuccess)
    return fail(error);
  if (cuda_emu::is_legacy(stream)) {
    if (cuda_emu_capture* capture = cuda_emu::blocking_capture()) {
      cuda_emu::invalidate(capture, cudaErrorStreamCaptureImplicit);
      cuda_emu::note("cudaStreamSynchronize of the legacy stream while a blocking stream captures");
      return fail(cudaErrorStreamCaptureImplicit);
    }
    return cudaSuccess;
  }
  if (stream->capture != nullptr) {
    cuda_emu::invalidate(stream->capture, cudaErrorStreamCaptureUnsupported);
    cuda_emu::note("cudaStreamSynchronize of a capturing stream: refused");
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  return cudaSuccess;
}

cudaError_t cudaStreamQuery(cudaStream_t stream) {
  const std::lock_guard lock(g_mutex);
  if (const cudaError_t error = cuda_emu::check_stream(stream); error != cudaSuccess)
    return fail(error);
  if (!cuda_emu::is_legacy(stream) && stream->capture != nullptr) {
    cuda_emu::invalidate(stream->capture, cudaErrorStreamCaptureUnsupported);
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  return cudaSuccess;
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int) {
  const std::lock_guard lock(g_mutex);
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  return fail(cuda_emu::check_stream(stream));  // work runs in issue order: nothing to wait for
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  const std::lock_guard lock(g_mutex);
  if (cuda_emu::is_legacy(stream)) {
    cuda_emu::note("cudaStreamBeginCapture on the legacy stream");
    return fail(cudaErrorStreamCaptureUnsupported);
  }
  if (cuda_emu::g_streams.count(stream) == 0) return fail(cudaErrorInvalidResourceHandle);
  if (stream->capture != nullptr) return fail(cudaErrorInvalidValue);
  auto* capture =
      new cuda_emu_capture{stream, mode, std::this_thread::get_id(), new CUgraph_st, cudaSuccess};
  stream->capture = capture;
  cuda_emu::g_captures.push_back(capture);
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph) {
  const std::lock_guard lock(g_mutex);
  *graph = nullptr;
  if (cuda_emu::is_legacy(stream) || cuda_emu::g_streams.count(stream) == 0 ||
      stream->capture == nullptr)
    return fail(cudaErrorInvalidValue);
  cuda_emu_capture* capture = stream->capture;
  if (capture->mode != cudaStreamCaptureModeRelaxed &&
      capture->thread != std::this_thread::get_id())
    return fail(cudaErrorStreamCaptureWrongThread);
  std::erase(cuda_emu::g_captures, capture);
  stream->capture = nullptr;
  const cudaError_t invalidated = capture->invalidated;
  CUgraph_st* captured = capture->graph;
  delete capture;
  if (invalidated != cudaSuccess) {
    delete captured;
    return fail(cudaErrorStreamCaptureInvalidated);
  }
  *graph = captured;
  return cudaSuccess;
}

cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status) {
  const std::lock_guard lock(g_mutex);
  if (const cudaError_t error = cuda_emu::check_stream(stream); error != cudaSuccess)
    return fail(error);
  if (cuda_emu::is_legacy(stream) || stream->capture == nullptr)
    *status = cudaStreamCaptureStatusNone;
  else
    *status = stream->capture->invalidated != cudaSuccess ? cudaStreamCaptureStatusInvalidated
                                                          : cudaStreamCaptureStatusActive;
  return cudaSuccess;
}

// ---- graphs ------------------------------------------------------------------------------------
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph, unsigned long long) {
  if (graph == nullptr) return fail(cudaErrorInvalidValue);
  *exec = new CUgraphExec_st{graph->nodes};
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (exec == nullptr) return fail(cudaErrorInvalidValue);
  for (const cuda_emu_node& node : exec->nodes)
    if (const cudaError_t error = cuda_emu::enqueue(stream, node.what.c_str(), node.work);
        error != cudaSuccess)
      return error;
  return cudaSuccess;
}

cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, std::size_t* count) {
  if (graph == nullptr || count == nullptr) return fail(cudaErrorInvalidValue);
  if (nodes != nullptr) {
    cuda_emu::note(
        "cudaGraphGetNodes: the emulator gives the count of nodes only (pass nodes = nullptr)");
    return fail(cudaErrorNotSupported);
  }
  *count = graph->nodes.size();
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

// ---- events ------------------------------------------------------------------------------------
cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st;
  return cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  return cuda_emu::enqueue(stream, "cudaEventRecord", [event] {
    event->when = std::chrono::steady_clock::now();
    event->recorded = true;
    return cudaSuccess;
  });
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  return cuda_emu::sticky_error() == cudaSuccess ? cudaSuccess : fail(cuda_emu::sticky_error());
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
  if (event == nullptr) return fail(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (start == nullptr || end == nullptr || !start->recorded || !end->recorded)
    return fail(cudaErrorInvalidResourceHandle);
  *ms = std::chrono::duration<float, std::milli>(end->when - start->when).count();
  return cudaSuccess;
}
