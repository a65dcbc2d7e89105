/* Linked into every module by setuptools-wasm: 16-bytes-per-step memchr, memcmp and strlen.
 *
 * zig's wasm32-wasi libc implements these as byte-at-a-time loops, which run 2-3 cycles per
 * byte under wasmtime's Cranelift (a log parser spent ~10% of its time in memchr). Only these
 * functions use SIMD (target attribute), so the rest of the module is compiled as before.
 * The definitions are strong (a weak one loses to libc's): where a module's own sources
 * define one of these functions, the build passes -DWASM_EXT_USER_<NAME> and it is left out.
 * Loads never leave the buffer except strlen's, which reads whole aligned 16-byte blocks:
 * such a block never crosses the end of linear memory (its size is a multiple of 64 KiB).
 */
#pragma clang diagnostic ignored "-Weverything" /* built with the user's flags (-Werror, ...) */

#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#define WASM_EXT_SIMD __attribute__((target("simd128")))

#ifndef WASM_EXT_USER_MEMCHR
WASM_EXT_SIMD void *memchr(const void *s, int c, size_t n) {
    const uint8_t *p = s;
    v128_t needle = wasm_i8x16_splat((int8_t)c);
    for (; n >= 16; p += 16, n -= 16) {
        uint32_t m = wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p), needle));
        if (m) return (void *)(p + __builtin_ctz(m));
    }
    for (; n; n--, p++)
        if (*p == (uint8_t)c) return (void *)p;
    return NULL;
}
#endif

#ifndef WASM_EXT_USER_MEMCMP
WASM_EXT_SIMD int memcmp(const void *a, const void *b, size_t n) {
    const uint8_t *p = a, *q = b;
    for (; n >= 16; p += 16, q += 16, n -= 16) {
        uint32_t m = wasm_i8x16_bitmask(wasm_i8x16_ne(wasm_v128_load(p), wasm_v128_load(q)));
        if (m) {
            unsigned i = __builtin_ctz(m);
            return p[i] - q[i];
        }
    }
    for (; n; n--, p++, q++)
        if (*p != *q) return *p - *q;
    return 0;
}
#endif

#ifndef WASM_EXT_USER_STRLEN
WASM_EXT_SIMD size_t strlen(const char *s) {
    uintptr_t start = (uintptr_t)s;
    const uint8_t *p = (const uint8_t *)(start & ~(uintptr_t)15);
    uint32_t m = wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p), wasm_i8x16_splat(0))) >> (start & 15);
    if (m) return __builtin_ctz(m);
    for (;;) {
        p += 16;
        m = wasm_i8x16_bitmask(wasm_i8x16_eq(wasm_v128_load(p), wasm_i8x16_splat(0)));
        if (m) return (size_t)(p + __builtin_ctz(m) - (const uint8_t *)s);
    }
}
#endif
