// DeviceBuffer<T>: one cudaMalloc'd array, freed on destruction, moved but never copied.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <utility>
#include <vector>

#include "cuda_check.cuh"

namespace vaead::cuda {

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t count) { resize(count); }
  ~DeviceBuffer() { release(); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  // Reallocates (contents lost) when `count` differs from the current size.
  void resize(std::size_t count) {
    if (count == size_) return;
    release();
    if (count > 0) CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&data_), count * sizeof(T)));
    size_ = count;
  }
  // Grows only: keeps the allocation when it is already large enough.
  void reserve(std::size_t count) {
    if (count > size_) resize(count);
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

  void upload(const T* host, std::size_t count, cudaStream_t stream, std::size_t offset = 0) {
    check_argument(offset + count <= size_, "upload past the end of a device buffer");
    CUDA_CHECK(
        cudaMemcpyAsync(data_ + offset, host, count * sizeof(T), cudaMemcpyHostToDevice, stream));
  }
  void download(T* host, std::size_t count, cudaStream_t stream, std::size_t offset = 0) const {
    check_argument(offset + count <= size_, "download past the end of a device buffer");
    CUDA_CHECK(
        cudaMemcpyAsync(host, data_ + offset, count * sizeof(T), cudaMemcpyDeviceToHost, stream));
  }
  // Synchronous copy of the whole buffer to the host.
  std::vector<T> to_host(cudaStream_t stream) const {
    std::vector<T> host(size_);
    download(host.data(), size_, stream);
    CUDA_CHECK(cudaStreamSynchronize(stream));
    return host;
  }
  void zero(cudaStream_t stream) {
    if (size_ > 0) CUDA_CHECK(cudaMemsetAsync(data_, 0, size_ * sizeof(T), stream));
  }

 private:
  void release() noexcept {
    if (data_ != nullptr) cudaFree(data_);
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace vaead::cuda
