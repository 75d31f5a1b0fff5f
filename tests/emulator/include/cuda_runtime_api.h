// cuda_emu: the part of the CUDA runtime API that vaead uses, for a machine without a GPU.
//
// Device memory is exact-size host memory (AddressSanitizer sees every overrun); stream work runs
// in order when it is issued (a copy between pageable memory and the device is synchronous on a GPU
// too); stream capture records work into graphs that cudaGraphLaunch replays, and refuses what the
// real runtime refuses during a capture. Kernels run block after block, the threads of a block as
// fibers (src/scheduler.cpp). Only the emulated build (VAEAD_CUDA_EMULATOR=ON) sees this header.
#pragma once

#include <cstddef>

// ---- vector types (vector_types.h) -------------------------------------------------------------
struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1)
      : x(vx), y(vy), z(vz) {}
};

#define CUDA_EMU_VECTOR_TYPES(name, type) \
  struct name##1 {                        \
    type x;                               \
  };                                      \
  struct name##2 {                        \
    type x, y;                            \
  };                                      \
  struct name##3 {                        \
    type x, y, z;                         \
  };                                      \
  struct name##4 {                        \
    type x, y, z, w;                      \
  };
CUDA_EMU_VECTOR_TYPES(char, signed char)
CUDA_EMU_VECTOR_TYPES(uchar, unsigned char)
CUDA_EMU_VECTOR_TYPES(short, short)
CUDA_EMU_VECTOR_TYPES(ushort, unsigned short)
CUDA_EMU_VECTOR_TYPES(int, int)
CUDA_EMU_VECTOR_TYPES(uint, unsigned int)
CUDA_EMU_VECTOR_TYPES(long, long)
CUDA_EMU_VECTOR_TYPES(ulong, unsigned long)
CUDA_EMU_VECTOR_TYPES(longlong, long long)
CUDA_EMU_VECTOR_TYPES(ulonglong, unsigned long long)
CUDA_EMU_VECTOR_TYPES(float, float)
CUDA_EMU_VECTOR_TYPES(double, double)
#undef CUDA_EMU_VECTOR_TYPES
// CUDA 13's 4-wide 64-bit types with a stated alignment.
#define CUDA_EMU_ALIGNED_VECTOR4(name, type) \
  struct alignas(16) name##4_16a {           \
    type x, y, z, w;                         \
  };                                         \
  struct alignas(32) name##4_32a {           \
    type x, y, z, w;                         \
  };
CUDA_EMU_ALIGNED_VECTOR4(long, long)
CUDA_EMU_ALIGNED_VECTOR4(ulong, unsigned long)
CUDA_EMU_ALIGNED_VECTOR4(longlong, long long)
CUDA_EMU_ALIGNED_VECTOR4(ulonglong, unsigned long long)
CUDA_EMU_ALIGNED_VECTOR4(double, double)
#undef CUDA_EMU_ALIGNED_VECTOR4

inline constexpr uint2 make_uint2(unsigned int x, unsigned int y) {
  return {x, y};
}
inline constexpr uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) {
  return {x, y, z, w};
}

// The runtime version this stand-in answers to (CUDA 13.0, the toolkit the project builds with).
#define CUDART_VERSION 13000

// ---- errors
// ----------------------------------------------------------------------------------------
enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInitializationError = 3,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorInsufficientDriver = 35,
  cudaErrorInvalidDeviceFunction = 98,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  cudaErrorLaunchTimeout = 702,
  cudaErrorLaunchFailure = 719,
  cudaErrorNotSupported = 801,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
  cudaErrorStreamCaptureImplicit = 906,
  cudaErrorCapturedEvent = 907,
  cudaErrorStreamCaptureWrongThread = 908,
  cudaErrorUnknown = 999,
};
typedef enum cudaError cudaError_t;

// ---- enums and handles -------------------------------------------------------------------------
enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaStreamCaptureMode {
  cudaStreamCaptureModeGlobal = 0,
  cudaStreamCaptureModeThreadLocal = 1,
  cudaStreamCaptureModeRelaxed = 2,
};

enum cudaStreamCaptureStatus {
  cudaStreamCaptureStatusNone = 0,
  cudaStreamCaptureStatusActive = 1,
  cudaStreamCaptureStatusInvalidated = 2,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

#define cudaStreamDefault 0x00u
#define cudaStreamNonBlocking 0x01u

struct cudaDeviceProp {
  char name[256];
  std::size_t totalGlobalMem;
  std::size_t sharedMemPerBlock;
  std::size_t sharedMemPerBlockOptin;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  int major;
  int minor;
  int multiProcessorCount;
};

struct CUstream_st;
struct CUevent_st;
struct CUgraph_st;
struct CUgraphExec_st;
struct CUgraphNode_st;
typedef CUstream_st* cudaStream_t;
typedef CUevent_st* cudaEvent_t;
typedef CUgraph_st* cudaGraph_t;
typedef CUgraphExec_st* cudaGraphExec_t;
typedef CUgraphNode_st* cudaGraphNode_t;

// The legacy default stream (also reached as 0) and the per-thread default stream.
#define cudaStreamLegacy (reinterpret_cast<cudaStream_t>(0x1))
#define cudaStreamPerThread (reinterpret_cast<cudaStream_t>(0x2))

// ---- the API -----------------------------------------------------------------------------------
cudaError_t cudaGetDeviceCount(int* count);
// sm_90's limits: a kernel may use more than 48 KB of dynamic shared memory only after this raises
// its maximum, and at most sharedMemPerBlockOptin (227 KB). (The emulator cannot see a kernel's
// static __shared__ bytes: they are not counted against the limit.)
cudaError_t cudaFuncSetAttribute(const void* function, cudaFuncAttribute attribute, int value);
template <class T>
cudaError_t cudaFuncSetAttribute(T* function, cudaFuncAttribute attribute, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(function), attribute, value);
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaDriverGetVersion(int* version);
cudaError_t cudaRuntimeGetVersion(int* version);
cudaError_t cudaDeviceSynchronize();
// Clears a kernel fault (on a GPU the process would have to start again).
cudaError_t cudaDeviceReset();

cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();
const char* cudaGetErrorName(cudaError_t error);
const char* cudaGetErrorString(cudaError_t error);

cudaError_t cudaMalloc(void** pointer, std::size_t bytes);
cudaError_t cudaMemGetInfo(std::size_t* free, std::size_t* total);
cudaError_t cudaFree(void* pointer);
cudaError_t cudaMallocHost(void** pointer, std::size_t bytes);
cudaError_t cudaFreeHost(void* pointer);
cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemcpy2DAsync(void* dst, std::size_t dpitch, const void* src, std::size_t spitch,
                              std::size_t width, std::size_t height, cudaMemcpyKind kind,
                              cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* dst, int value, std::size_t bytes);
cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t bytes, cudaStream_t stream = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned int flags);
cudaError_t cudaStreamGetFlags(cudaStream_t stream, unsigned int* flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamQuery(cudaStream_t stream);
cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned int flags = 0);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t* graph);
cudaError_t cudaStreamIsCapturing(cudaStream_t stream, cudaStreamCaptureStatus* status);

cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t graph,
                                 unsigned long long flags = 0);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
// The count of a graph's nodes (one a kernel launch, copy or fill recorded); with nodes != nullptr
// (the nodes themselves) it fails: cudaErrorNotSupported.
cudaError_t cudaGraphGetNodes(cudaGraph_t graph, cudaGraphNode_t* nodes, std::size_t* count);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventQuery(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

// ---- the emulator's own entry points (not CUDA) ------------------------------------------------
#include <functional>

namespace cuda_emu {

// Runs `work` in order on `stream` (now), or records it while the stream captures (a graph node
// that each cudaGraphLaunch runs again). `what` names it in messages. Returns the error of refused
// or failed work.
cudaError_t enqueue(cudaStream_t stream, const char* what, std::function<cudaError_t()> work);

// Whether [pointer, pointer + bytes) lies inside one device allocation.
bool is_device_range(const void* pointer, std::size_t bytes);

// Refuses (returns an error naming `what`) a host-synchronous library call on a capturing stream.
cudaError_t refuse_during_capture(cudaStream_t stream, const char* what);

// Seconds one grid may run before the process ends with a message (VAEAD_EMU_TIME_LIMIT, 600).
void set_time_limit(double seconds);

}  // namespace cuda_emu
