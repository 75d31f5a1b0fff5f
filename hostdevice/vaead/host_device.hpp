// VAEAD_HOST_DEVICE: a function that host code and CUDA kernels both call (nvcc compiles it for
// both sides; every other compiler sees a plain function).
#pragma once

#if defined(__CUDACC__)
#define VAEAD_HOST_DEVICE __host__ __device__
#else
#define VAEAD_HOST_DEVICE
#endif
