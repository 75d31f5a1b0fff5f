// cuda_emu's reference cublasSgemm: the definition, summed in double, checked against the device
// allocations and run on the handle's stream.
#include <cublas_v2.h>

#include <algorithm>
#include <vector>

struct cublasContext {
  cudaStream_t stream = nullptr;
};

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t) {
  return handle == nullptr ? CUBLAS_STATUS_NOT_INITIALIZED : CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t transa,
                           cublasOperation_t transb, int m, int n, int k, const float* alpha,
                           const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  if (handle == nullptr) return CUBLAS_STATUS_NOT_INITIALIZED;
  const bool ta = transa != CUBLAS_OP_N, tb = transb != CUBLAS_OP_N;
  const int a_rows = ta ? k : m, a_cols = ta ? m : k;
  const int b_rows = tb ? n : k, b_cols = tb ? k : n;
  if (m < 0 || n < 0 || k < 0 || lda < std::max(1, a_rows) || ldb < std::max(1, b_rows) ||
      ldc < std::max(1, m))
    return CUBLAS_STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  const auto span = [](int rows, int cols, int ld) {
    return (static_cast<std::size_t>(cols) - 1) * static_cast<std::size_t>(ld) +
           static_cast<std::size_t>(rows);
  };
  if ((k > 0 && (!cuda_emu::is_device_range(A, span(a_rows, a_cols, lda) * sizeof(float)) ||
                 !cuda_emu::is_device_range(B, span(b_rows, b_cols, ldb) * sizeof(float)))) ||
      !cuda_emu::is_device_range(C, span(m, n, ldc) * sizeof(float)))
    return CUBLAS_STATUS_INVALID_VALUE;
  const float a_scale = *alpha, c_scale = *beta;
  const cudaError_t error = cuda_emu::enqueue(handle->stream, "cublasSgemm", [=] {
    const auto at = [&](int i, int l) {
      return ta ? A[static_cast<std::size_t>(i) * lda + l]
                : A[static_cast<std::size_t>(l) * lda + i];
    };
    const auto bt = [&](int l, int j) {
      return tb ? B[static_cast<std::size_t>(l) * ldb + j]
                : B[static_cast<std::size_t>(j) * ldb + l];
    };
    for (int j = 0; j < n; ++j)
      for (int i = 0; i < m; ++i) {
        double sum = 0.0;
        for (int l = 0; l < k; ++l)
          sum += static_cast<double>(at(i, l)) * bt(l, j);
        float& c = C[static_cast<std::size_t>(j) * ldc + i];
        c = static_cast<float>(a_scale * sum + (c_scale == 0.0f ? 0.0 : c_scale * c));
      }
    return cudaSuccess;
  });
  return error == cudaSuccess ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_EXECUTION_FAILED;
}
