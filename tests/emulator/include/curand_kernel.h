// cuda_emu: cuRAND's device API for Philox4_32_10, as cuRAND defines it: the key is the seed; the
// 128-bit counter holds the subsequence in its high 64 bits and offset / 4 in its low 64 bits;
// offset % 4 is the position within the block of four 32-bit outputs. Written from that
// definition and Salmon et al.'s Philox4x32-10 (SC'11), independently of vaead's own Philox
// (hostdevice/vaead/philox.hpp) that the tests hold it against.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

struct curandStatePhilox4_32_10 {
  uint4 ctr;
  uint4 output;
  uint2 key;
  unsigned int STATE;
  int boxmuller_flag;
  int boxmuller_flag_double;
  float boxmuller_extra;
  double boxmuller_extra_double;
};
typedef struct curandStatePhilox4_32_10 curandStatePhilox4_32_10_t;

namespace cuda_emu::curand {

inline uint4 philox_round(uint4 c, uint2 k) {
  const std::uint64_t a = std::uint64_t{0xD2511F53u} * c.x;
  const std::uint64_t b = std::uint64_t{0xCD9E8D57u} * c.z;
  return uint4{static_cast<unsigned>(b >> 32) ^ c.y ^ k.x, static_cast<unsigned>(b),
               static_cast<unsigned>(a >> 32) ^ c.w ^ k.y, static_cast<unsigned>(a)};
}

inline uint4 philox4x32_10(uint4 counter, uint2 key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) key = uint2{key.x + 0x9E3779B9u, key.y + 0xBB67AE85u};
    counter = philox_round(counter, key);
  }
  return counter;
}

// The 128-bit counter plus `low` (added to words x..w) or `high` (added to words z..w).
inline void add_to_counter(curandStatePhilox4_32_10_t* state, std::uint64_t value, int first_word) {
  unsigned* words[4] = {&state->ctr.x, &state->ctr.y, &state->ctr.z, &state->ctr.w};
  std::uint64_t carry = value;
  for (int w = first_word; w < 4 && carry != 0; ++w) {
    const std::uint64_t sum = std::uint64_t{*words[w]} + (carry & 0xFFFFFFFFu);
    *words[w] = static_cast<unsigned>(sum);
    carry = (carry >> 32) + (sum >> 32);
  }
}

}  // namespace cuda_emu::curand

inline void skipahead(unsigned long long n, curandStatePhilox4_32_10_t* state) {
  state->STATE += static_cast<unsigned>(n & 3);
  n /= 4;
  if (state->STATE > 3) {
    n += 1;
    state->STATE -= 4;
  }
  cuda_emu::curand::add_to_counter(state, n, 0);
  state->output = cuda_emu::curand::philox4x32_10(state->ctr, state->key);
}

inline void skipahead_sequence(unsigned long long n, curandStatePhilox4_32_10_t* state) {
  cuda_emu::curand::add_to_counter(state, n, 2);
  state->output = cuda_emu::curand::philox4x32_10(state->ctr, state->key);
}

inline void curand_init(unsigned long long seed, unsigned long long subsequence,
                        unsigned long long offset, curandStatePhilox4_32_10_t* state) {
  *state = curandStatePhilox4_32_10_t{};
  state->key = uint2{static_cast<unsigned>(seed), static_cast<unsigned>(seed >> 32)};
  skipahead_sequence(subsequence, state);
  skipahead(offset, state);
}

// The next four 32-bit outputs.
inline uint4 curand4(curandStatePhilox4_32_10_t* state) {
  const uint4 current = state->output;
  cuda_emu::curand::add_to_counter(state, 1, 0);
  state->output = cuda_emu::curand::philox4x32_10(state->ctr, state->key);
  const unsigned all[8] = {current.x,       current.y,       current.z,       current.w,
                           state->output.x, state->output.y, state->output.z, state->output.w};
  const unsigned s = state->STATE;
  return uint4{all[s], all[s + 1], all[s + 2], all[s + 3]};
}

// The next 32-bit output.
inline unsigned int curand(curandStatePhilox4_32_10_t* state) {
  const unsigned words[4] = {state->output.x, state->output.y, state->output.z, state->output.w};
  const unsigned value = words[state->STATE++];
  if (state->STATE == 4) {
    cuda_emu::curand::add_to_counter(state, 1, 0);
    state->output = cuda_emu::curand::philox4x32_10(state->ctr, state->key);
    state->STATE = 0;
  }
  return value;
}
