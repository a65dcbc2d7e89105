/* wasm_ext.h: markers for setuptools-wasm kernels.
 *
 *   #include <wasm_ext.h>
 *
 *   /// Return the n-th Fibonacci number.
 *   WASM_EXPORT int32_t fib(int32_t n) { ... }
 *
 * A function marked WASM_EXPORT is exported from the wasm module and gets a typed Python
 * function in the generated stub (unless the extension lists `exports` explicitly).
 * In C++ it also gives the function C linkage (extern "C"): only such functions can be
 * exported, under their own names.
 */
#ifndef WASM_EXT_H
#define WASM_EXT_H

#if defined(__cplusplus)
#define WASM_EXT_LINKAGE_ extern "C"
#else
#define WASM_EXT_LINKAGE_
#endif

#if defined(__clang__)
#define WASM_EXPORT WASM_EXT_LINKAGE_ __attribute__((visibility("default"), used, annotate("wasm_ext.export")))
#else /* other compilers (a native build of the same source, e.g. for tests) */
#define WASM_EXPORT WASM_EXT_LINKAGE_ __attribute__((visibility("default"), used))
#endif

#endif
