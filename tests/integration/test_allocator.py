"""The malloc linked into every module (include/wasm_ext_malloc.c), built and run for real.

What kernels rely on: every block is usable, aligned and private (a random mix of malloc,
calloc, realloc, aligned_alloc and free, with each block's bytes checked before it is
touched again); freed memory merges, so a heap freed whole takes a block of all of it
without growing; memory grows only when needed and a cap makes malloc return NULL; a
double free traps; a module that defines its own malloc keeps it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest
from support.building import Built

STRESS = r"""
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <wasm_ext.h>

#define SLOTS 512
static unsigned char *ptr[SLOTS];
static uint32_t len[SLOTS], tag[SLOTS];
static uint64_t state;

static uint32_t next(void) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(state >> 33);
}

static int intact(int i) {
    for (uint32_t k = 0; k < len[i]; k++)
        if (ptr[i][k] != (unsigned char)(tag[i] + k)) return 0;
    return 1;
}

static void fill(int i) {
    for (uint32_t k = 0; k < len[i]; k++) ptr[i][k] = (unsigned char)(tag[i] + k);
}

static uint32_t size(void) {  /* mostly small, some medium, a few over 64 KiB */
    uint32_t r = next() % 100;
    return r < 70 ? next() % 200 : r < 97 ? next() % 8000 : 65536 + next() % 300000;
}

/// Run `steps` random heap operations from `seed`; 0 if every check held, else the failed step + 1.
WASM_EXPORT uint32_t stress(uint64_t seed, uint32_t steps) {
    state = seed;
    for (uint32_t s = 0; s < steps; s++) {
        int i = next() % SLOTS;
        if (ptr[i] && !intact(i)) return s + 1;
        uint32_t op = next() % 6;
        if (ptr[i] && op < 2) {
            free(ptr[i]);
            ptr[i] = NULL;
        } else if (ptr[i] && op == 2) {
            uint32_t n = size(), keep = n < len[i] ? n : len[i];
            unsigned char *p = realloc(ptr[i], n);
            if (!p && n) return s + 1;
            ptr[i] = p;
            len[i] = keep;            /* the kept bytes must have survived the move */
            if (p && !intact(i)) return s + 1;
            len[i] = n;
            if (p) fill(i);
        } else if (!ptr[i]) {
            uint32_t n = size(), align = 16u << (next() % 8);
            unsigned char *p;
            if (op == 3) {
                p = calloc(1, n);
                for (uint32_t k = 0; k < n; k++) if (p[k]) return s + 1;
            } else if (op == 4) {
                p = aligned_alloc(align, n);
                if ((uintptr_t)p % align) return s + 1;
            } else {
                p = malloc(n);
            }
            if (!p || (uintptr_t)p % 16 || malloc_usable_size(p) < n) return s + 1;
            ptr[i] = p, len[i] = n, tag[i] = next();
            fill(i);
        }
    }
    for (int i = 0; i < SLOTS; i++) {
        if (ptr[i] && !intact(i)) return steps + 1;
        free(ptr[i]);
        ptr[i] = NULL;
    }
    return 0;
}

/// Pages of linear memory now.
WASM_EXPORT uint32_t pages(void) { return __builtin_wasm_memory_size(0); }

extern unsigned char __heap_base;

/// The first page wholly above the data and the stack: where the heap's pages start.
WASM_EXPORT uint32_t heap_start_page(void) { return ((uintptr_t)&__heap_base + 65535) / 65536; }

static void *volatile kept; /* so the compiler cannot drop a malloc/free pair it sees whole */

/// malloc(n) then free it; 1 if it succeeded.
WASM_EXPORT int try_malloc(uint32_t n) {
    kept = malloc(n);
    int ok = kept != NULL;
    free(kept);
    return ok;
}

/// Free the same block twice.
WASM_EXPORT void double_free(void) {
    kept = malloc(40);
    free(kept);
    free(kept);
}
"""

OWN_MALLOC = r"""
#include <stddef.h>
#include <wasm_ext.h>

static unsigned char arena[1 << 16];
static size_t used;
void *malloc(size_t n) { void *p = arena + used; used += (n + 15) & ~(size_t)15; return p; }
void free(void *p) { (void)p; }

/// How many bytes the module's own malloc handed out.
WASM_EXPORT size_t arena_used(void) { return used; }

/// A block of n bytes from malloc.
WASM_EXPORT size_t take(size_t n) { return (size_t)malloc(n); }
"""


@pytest.fixture
def stress(build_c: Callable[..., Built]) -> ModuleType:
    return build_c(STRESS).import_stub()


@pytest.mark.parametrize("seed", [1, 2, 3, 0xDEADBEEF])
def test_random_heap_operations_keep_every_block_intact(stress: ModuleType, seed: int) -> None:
    assert stress.stress(seed, 40_000) == 0


def test_a_heap_freed_whole_is_one_block_again(stress: ModuleType) -> None:
    assert stress.stress(7, 20_000) == 0
    grown = stress.pages()
    heap_pages = grown - stress.heap_start_page()
    assert heap_pages > 40  # the stress grew the heap by megabytes
    # everything is free again: one block of all of the heap but a page fits without growing memory
    assert stress.try_malloc((heap_pages - 1) * 65536) == 1
    assert stress.pages() == grown
    for seed in range(8, 12):  # and the same work again needs no more memory
        assert stress.stress(seed, 20_000) == 0
    assert stress.pages() <= grown + 8


def test_a_memory_cap_makes_malloc_return_null(stress: ModuleType) -> None:
    with stress.sandbox(max_memory="24MiB") as box:  # the initial memory is 16 MiB (zig's stack)
        small = box.try_malloc(1 << 20)
        big = box.try_malloc(16 << 20)
        assert (small, big) == (1, 0)
        assert box.try_malloc(1 << 20) == 1  # the failure cost nothing


def test_a_double_free_traps(stress: ModuleType) -> None:
    with pytest.raises(stress.KernelTrap, match="^double_free: wasm trap"):
        stress.double_free()
    assert stress.stress(5, 1000) == 0  # the next call gets a fresh instance


def test_a_module_with_its_own_malloc_keeps_it(build_c: Callable[..., Built]) -> None:
    own = build_c(OWN_MALLOC).import_stub()
    before = own.arena_used()
    own.take(100)
    assert own.arena_used() == before + 112
