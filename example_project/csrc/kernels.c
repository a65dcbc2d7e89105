/* Kernels of the example project, compiled to WebAssembly by setuptools-wasm. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wasm_ext.h>

#include "adler32.h"

/**
 * Return the n-th Fibonacci number (fib(0) == 0, fib(1) == 1), computed iteratively.
 *
 * The arithmetic is 32-bit and wraps for n > 46, as C int32 does.
 */
WASM_EXPORT int32_t fib(int32_t n) {
    uint32_t a = 0, b = 1;
    for (int32_t i = 0; i < n; i++) {
        uint32_t t = a + b;
        a = b;
        b = t;
    }
    return (int32_t)a;
}

/**
 * Count the primes <= limit with a sieve of Eratosthenes.
 *
 * Returns -1 if the sieve's memory (limit + 1 bytes) cannot be allocated.
 */
WASM_EXPORT int32_t sieve(int32_t limit) {
    if (limit < 2) return 0;
    uint8_t *composite = calloc((size_t)limit + 1, 1);
    if (composite == NULL) return -1;
    int32_t count = 0;
    for (int64_t i = 2; i <= limit; i++) {
        if (composite[i]) continue;
        count++;
        for (int64_t j = i * i; j <= limit; j += i) composite[j] = 1;
    }
    free(composite);
    return count;
}

/// Adler-32 checksum of data, equal to zlib.adler32(data).
WASM_EXPORT uint32_t adler32(const uint8_t *data, size_t data_len) {
    uint32_t a = 1, b = 0;
    while (data_len > 0) {
        size_t chunk = data_len < ADLER32_NMAX ? data_len : ADLER32_NMAX;
        data_len -= chunk;
        while (chunk--) {
            a += *data++;
            b += a;
        }
        a %= ADLER32_MOD;
        b %= ADLER32_MOD;
    }
    return (b << 16) | a;
}
