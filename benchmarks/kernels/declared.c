/* Kernels for bench_declared.py: the same work bound through declarations and through a
 * hand-written shim of the kind users wrote before declarations existed. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <wasm_ext.h>

typedef struct counter counter;
struct counter { int32_t value; };

WASM_EXPORT int32_t scalar_get(int32_t x) { return x + 1; }

counter *counter_new(void) { counter *c = malloc(sizeof *c); if (c) c->value = 0; return c; }
void counter_free(counter *c) { free(c); }
int32_t counter_get(counter *c) { return c->value + 1; }

/* declared: quot and rem are out-parameters */
int divmod(int64_t num, int64_t den, int64_t *quot, int64_t *rem) {
    if (!den) return -1;
    *quot = num / den; *rem = num % den; return 0;
}
/* the shim: results through a caller's buffer of two int64 */
WASM_EXPORT int divmod_shim(int64_t num, int64_t den, int64_t *out, size_t n) {
    if (n < 2) return -2;
    return divmod(num, den, &out[0], &out[1]);
}

/* declared "out[cap] -> return": the stub's output path alone (reserve, call, copy out); C writes nothing */
size_t produce(uint8_t *out, size_t cap) { (void)out; return cap; }
