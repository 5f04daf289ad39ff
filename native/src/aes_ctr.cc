// The secure-aggregation mask PRG (docs/spec/secure-aggregation.md §3.1) with AES-NI: AES-256-CTR, IV 0^16 (the
// 128-bit big-endian counter starts at 0), keystream read as little-endian uint32 words, added to or subtracted
// from a target vector mod 2^32 in place.
//
// Why it is here: through node:crypto every 64 KiB of keystream is a new Buffer, and a round of the standard
// scenario expands about 54 MB of masks on the coordinator's process. Those short-lived buffers count as external
// memory and drive V8 into a full collection every few tens of milliseconds, on the thread that also feeds the
// pool's workers. Here the keystream never leaves registers. The bytes are the same as OpenSSL's: the tests
// compare both on random keys and lengths.
//
// Compiled for every target; the AES-NI path only on x86-64 (function-level target attributes, so the rest of
// the addon keeps its flags), chosen at run time by cpuid. Elsewhere `rfl::aesCtrAvailable()` is false and the
// JavaScript side keeps node:crypto.
#include "aes_ctr.h"

#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>

namespace {

#define RFL_AES __attribute__((target("aes,sse4.1")))

// w0 ^ (w0..w1) ^ (w0..w2) ^ (w0..w3): each word of a round key half xors all the words before it.
RFL_AES inline __m128i prefixXor(__m128i a) {
  a = _mm_xor_si128(a, _mm_slli_si128(a, 4));
  return _mm_xor_si128(a, _mm_slli_si128(a, 8));
}

RFL_AES inline __m128i expandA(__m128i a, __m128i assist) { return _mm_xor_si128(prefixXor(a), _mm_shuffle_epi32(assist, 0xff)); }

RFL_AES inline __m128i expandB(__m128i a, __m128i b) {
  return _mm_xor_si128(prefixXor(b), _mm_shuffle_epi32(_mm_aeskeygenassist_si128(a, 0x00), 0xaa));
}

// FIPS-197 AES-256 key schedule: 15 round keys. The round constant of aeskeygenassist must be an immediate.
RFL_AES void schedule(const uint8_t* key, __m128i rk[15]) {
  __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key));
  __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(key + 16));
  rk[0] = a;
  rk[1] = b;
#define RFL_ROUND(i, rcon)                                 \
  a = expandA(a, _mm_aeskeygenassist_si128(b, rcon));      \
  rk[i] = a;                                               \
  if (i + 1 < 15) {                                        \
    b = expandB(a, b);                                     \
    rk[i + 1] = b;                                         \
  }
  RFL_ROUND(2, 0x01)
  RFL_ROUND(4, 0x02)
  RFL_ROUND(6, 0x04)
  RFL_ROUND(8, 0x08)
  RFL_ROUND(10, 0x10)
  RFL_ROUND(12, 0x20)
  a = expandA(a, _mm_aeskeygenassist_si128(b, 0x40));
  rk[14] = a;
#undef RFL_ROUND
}

// The counter block of block index i: 16 bytes, big-endian 128-bit integer i.
RFL_AES inline __m128i counter(uint64_t i) { return _mm_set_epi64x(static_cast<long long>(__builtin_bswap64(i)), 0); }

// Eight blocks at once: AES rounds have a latency of several cycles and a throughput of one or two a cycle, so
// independent blocks keep the unit busy.
constexpr int kLanes = 8;

RFL_AES inline void encrypt8(const __m128i rk[15], uint64_t block, __m128i out[kLanes]) {
  for (int l = 0; l < kLanes; l++) out[l] = _mm_xor_si128(counter(block + l), rk[0]);
  for (int r = 1; r < 14; r++)
    for (int l = 0; l < kLanes; l++) out[l] = _mm_aesenc_si128(out[l], rk[r]);
  for (int l = 0; l < kLanes; l++) out[l] = _mm_aesenclast_si128(out[l], rk[14]);
}

RFL_AES inline __m128i encrypt1(const __m128i rk[15], uint64_t block) {
  __m128i s = _mm_xor_si128(counter(block), rk[0]);
  for (int r = 1; r < 14; r++) s = _mm_aesenc_si128(s, rk[r]);
  return _mm_aesenclast_si128(s, rk[14]);
}

// mode +1: target += keystream; -1: target -= keystream; 0: target = keystream. Four words per block.
RFL_AES inline __m128i combine(__m128i t, __m128i ks, int mode) {
  return mode > 0 ? _mm_add_epi32(t, ks) : mode < 0 ? _mm_sub_epi32(t, ks) : ks;
}

RFL_AES void maskAesNi(uint32_t* target, size_t words, const uint8_t* key, int mode) {
  __m128i rk[15];
  schedule(key, rk);
  const size_t blocks = words / 4;
  size_t b = 0;
  __m128i ks[kLanes];
  for (; b + kLanes <= blocks; b += kLanes) {
    encrypt8(rk, b, ks);
    for (int l = 0; l < kLanes; l++) {
      __m128i* p = reinterpret_cast<__m128i*>(target + 4 * (b + l));
      _mm_storeu_si128(p, combine(_mm_loadu_si128(p), ks[l], mode));
    }
  }
  for (; b < blocks; b++) {
    __m128i* p = reinterpret_cast<__m128i*>(target + 4 * b);
    _mm_storeu_si128(p, combine(_mm_loadu_si128(p), encrypt1(rk, b), mode));
  }
  const size_t rest = words - 4 * blocks;
  if (rest > 0) {
    uint32_t tail[4];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tail), encrypt1(rk, blocks));
    uint32_t* t = target + 4 * blocks;
    for (size_t i = 0; i < rest; i++) t[i] = mode > 0 ? t[i] + tail[i] : mode < 0 ? t[i] - tail[i] : tail[i];
  }
  // The round keys are secret material of the protocol: clear the stack copy.
  volatile uint8_t* wipe = reinterpret_cast<volatile uint8_t*>(rk);
  for (size_t i = 0; i < sizeof(rk); i++) wipe[i] = 0;
}

bool detect() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
}

const bool kAesNi = detect();

}  // namespace

namespace rfl {
bool aesCtrAvailable() { return kAesNi; }
void aesCtrMask(uint32_t* target, size_t words, const uint8_t* key, int mode) { maskAesNi(target, words, key, mode); }
}  // namespace rfl

#else

namespace rfl {
bool aesCtrAvailable() { return false; }
void aesCtrMask(uint32_t*, size_t, const uint8_t*, int) {}
}  // namespace rfl

#endif
