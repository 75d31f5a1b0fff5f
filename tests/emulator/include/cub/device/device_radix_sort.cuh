// cuda_emu: cub::DeviceRadixSort's pair sorts, as CUB defines them (stable, by the key bits
// [begin_bit, end_bit), unsigned integer keys), run on the stream like a kernel. The temporary
// storage it asks for is filled, so a caller that passes less than it asked for trips
// AddressSanitizer or the size check.
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <type_traits>
#include <vector>

namespace cub {

struct DeviceRadixSort {
  template <class Key, class Value, class NumItems>
  static cudaError_t SortPairs(void* temp_storage, std::size_t& temp_storage_bytes,
                               const Key* keys_in, Key* keys_out, const Value* values_in,
                               Value* values_out, NumItems num_items, int begin_bit = 0,
                               int end_bit = sizeof(Key) * 8, cudaStream_t stream = nullptr) {
    return sort(temp_storage, temp_storage_bytes, keys_in, keys_out, values_in, values_out,
                num_items, begin_bit, end_bit, stream, false);
  }

  template <class Key, class Value, class NumItems>
  static cudaError_t SortPairsDescending(void* temp_storage, std::size_t& temp_storage_bytes,
                                         const Key* keys_in, Key* keys_out, const Value* values_in,
                                         Value* values_out, NumItems num_items, int begin_bit = 0,
                                         int end_bit = sizeof(Key) * 8,
                                         cudaStream_t stream = nullptr) {
    return sort(temp_storage, temp_storage_bytes, keys_in, keys_out, values_in, values_out,
                num_items, begin_bit, end_bit, stream, true);
  }

 private:
  template <class Key, class Value, class NumItems>
  static cudaError_t sort(void* temp_storage, std::size_t& temp_storage_bytes, const Key* keys_in,
                          Key* keys_out, const Value* values_in, Value* values_out,
                          NumItems num_items, int begin_bit, int end_bit, cudaStream_t stream,
                          bool descending) {
    static_assert(std::is_integral_v<Key> && std::is_unsigned_v<Key>,
                  "cuda_emu's radix sort takes unsigned integer keys");
    if (num_items < 0 || begin_bit < 0 || end_bit > static_cast<int>(sizeof(Key) * 8) ||
        begin_bit > end_bit)
      return cudaErrorInvalidValue;
    const auto n = static_cast<std::size_t>(num_items);
    const std::size_t needed = n * (sizeof(Key) + sizeof(Value)) + 256;
    if (temp_storage == nullptr) {
      temp_storage_bytes = needed;
      return cudaSuccess;
    }
    if (temp_storage_bytes < needed ||
        !cuda_emu::is_device_range(temp_storage, temp_storage_bytes) ||
        (n > 0 && (!cuda_emu::is_device_range(keys_in, n * sizeof(Key)) ||
                   !cuda_emu::is_device_range(keys_out, n * sizeof(Key)) ||
                   !cuda_emu::is_device_range(values_in, n * sizeof(Value)) ||
                   !cuda_emu::is_device_range(values_out, n * sizeof(Value)))))
      return cudaErrorInvalidValue;
    return cuda_emu::enqueue(stream, "cub::DeviceRadixSort", [=] {
      std::memset(temp_storage, 0xFF, needed);
      const Key bits = end_bit - begin_bit == static_cast<int>(sizeof(Key) * 8)
                           ? static_cast<Key>(~Key{0})
                           : static_cast<Key>(((Key{1} << (end_bit - begin_bit)) - 1) << begin_bit);
      std::vector<std::size_t> order(n);
      std::iota(order.begin(), order.end(), std::size_t{0});
      std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        const Key ka = keys_in[a] & bits, kb = keys_in[b] & bits;
        return descending ? kb < ka : ka < kb;
      });
      std::vector<Key> keys(n);
      std::vector<Value> values(n);
      for (std::size_t i = 0; i < n; ++i) {
        keys[i] = keys_in[order[i]];
        values[i] = values_in[order[i]];
      }
      std::copy(keys.begin(), keys.end(), keys_out);
      std::copy(values.begin(), values.end(), values_out);
      return cudaSuccess;
    });
  }
};

}  // namespace cub
