// The secure-aggregation mask PRG with AES-NI (aes_ctr.cc says why it is native).
#pragma once

#include <cstddef>
#include <cstdint>

namespace rfl {

/** Whether this CPU has AES-NI (and SSE4.1); false on every other architecture. */
bool aesCtrAvailable();

/**
 * target[i] ← target[i] + mode·PRG(key)[i] mod 2^32 for mode ±1, or target[i] ← PRG(key)[i] for mode 0, over
 * `words` words. PRG(key) is the AES-256-CTR keystream under `key` (32 bytes) from IV 0^16, as little-endian
 * uint32 words. Call only where `aesCtrAvailable()`.
 */
void aesCtrMask(uint32_t* target, size_t words, const uint8_t* key, int mode);

}  // namespace rfl
