/* Kernels for benchmarks/bench_calls.py: the same C is built natively (ctypes) and to wasm. */
#include <stddef.h>
#include <stdint.h>
#include <wasm_ext.h>

/// Add two 32-bit integers (the per-call overhead benchmark).
WASM_EXPORT int32_t add(int32_t a, int32_t b) { return a + b; }

/// Adler-32 of data (a read-only buffer).
WASM_EXPORT uint32_t checksum(const uint8_t *data, size_t n) {
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + data[i]) % 65521;
        b = (b + a) % 65521;
    }
    return (b << 16) | a;
}

/// XOR every byte of data with key, in place (an in/out buffer).
WASM_EXPORT void xor_bytes(uint8_t *data, size_t n, uint8_t key) {
    for (size_t i = 0; i < n; i++) data[i] ^= key;
}
