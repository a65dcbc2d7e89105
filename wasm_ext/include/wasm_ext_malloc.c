/* Linked into every module by setuptools-wasm: a malloc that gives freed memory back.
 *
 * zig's wasm32 libc allocates from power-of-two size classes that never merge: a freed
 * block goes on its class's LIFO list and stays there. A kernel that builds and frees many
 * objects per call leaves those lists in scrambled address order, so every later call
 * allocates from memory scattered over the whole heap instead of in sequence: a kernel that
 * ran 124 ms on its first call ran 265-305 ms on every later one (benchmarks/bench_drift.py).
 *
 * This is a two-level segregated fit allocator (TLSF, Masmano et al. 2004): 16-byte
 * granules, a 4-bit second level, O(1) malloc and free (but for one list scanned before
 * memory grows), and a freed block merges at once
 * with free neighbours. A call that frees what it allocated leaves the heap as it found it,
 * so the next call allocates in sequence again. It starts at __heap_base (zig's allocator
 * leaves the initial memory above the data unused), grows memory only by the pages a request
 * needs (so a sandbox's max_memory holds to the page), and returns NULL with errno = ENOMEM
 * when memory cannot grow. A double free, or freeing a pointer that is not 16-byte aligned,
 * traps (a KernelTrap in Python) rather than corrupting the heap.
 *
 * Every block: [prev_size u32][size u32 | FREE | PREV_FREE][payload...], the payload 16-byte
 * aligned; free blocks hold their list links in the payload, and the block after a free block
 * knows its size (prev_size). A zero-size block ends each contiguous run of heap.
 * Left out when the module's own sources define any malloc function (-DWASM_EXT_USER_MALLOC).
 */
#pragma clang diagnostic ignored "-Weverything" /* built with the user's flags (-Werror, ...) */

#ifndef WASM_EXT_USER_MALLOC

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#pragma clang attribute push(__attribute__((minsize)), apply_to = function)

#define GRANULE 16u
#define HEADER 8u
#define MIN_BLOCK 16u
#define FREE_BIT 1u
#define PREV_FREE_BIT 2u
#define FLAGS (FREE_BIT | PREV_FREE_BIT)
#define SL_BITS 4
#define SL_COUNT (1 << SL_BITS)
#define FL_SHIFT 8 /* blocks under 256 bytes: first level 0, 16-byte steps */
#define FL_COUNT 25
#define PAGE 65536u
#define MAX_REQUEST 0x7fffffc0u /* under 2 GiB: sizes stay in 31 bits */

typedef struct block {
    uint32_t prev_size;
    uint32_t size;
    struct block *next_free;
    struct block *prev_free;
} block;

extern unsigned char __heap_base;

static uint32_t fl_bitmap;
static uint32_t sl_bitmap[FL_COUNT];
static block *heads[FL_COUNT][SL_COUNT];
static uintptr_t heap_end; /* end of the last run of heap; 0 until the first malloc */

static inline uint32_t size_of(const block *b) { return b->size & ~FLAGS; }
static inline block *after(block *b) { return (block *)((char *)b + size_of(b)); }
static inline void *payload(block *b) { return (char *)b + HEADER; }
static inline block *block_of(void *p) { return (block *)((char *)p - HEADER); }

static inline void mapping(uint32_t size, int *fl, int *sl) {
    if (size < (1u << FL_SHIFT)) {
        *fl = 0;
        *sl = (int)(size / GRANULE);
    } else {
        int top = 31 - __builtin_clz(size);
        *fl = top - FL_SHIFT + 1;
        *sl = (int)((size >> (top - SL_BITS)) ^ SL_COUNT);
    }
}

static void unlink_free(block *b) {
    int fl, sl;
    mapping(size_of(b), &fl, &sl);
    if (b->prev_free) b->prev_free->next_free = b->next_free;
    else heads[fl][sl] = b->next_free;
    if (b->next_free) b->next_free->prev_free = b->prev_free;
    if (!heads[fl][sl]) {
        sl_bitmap[fl] &= ~(1u << sl);
        if (!sl_bitmap[fl]) fl_bitmap &= ~(1u << fl);
    }
}

static void link_free(block *b) {
    int fl, sl;
    mapping(size_of(b), &fl, &sl);
    b->prev_free = NULL;
    b->next_free = heads[fl][sl];
    if (b->next_free) b->next_free->prev_free = b;
    heads[fl][sl] = b;
    sl_bitmap[fl] |= 1u << sl;
    fl_bitmap |= 1u << fl;
}

/* Make the used block b free: merge it with free neighbours and put it on its list. */
static void release(block *b) {
    uint32_t size = size_of(b);
    block *next = after(b);
    if (next->size & FREE_BIT) {
        unlink_free(next);
        size += size_of(next);
    }
    if (b->size & PREV_FREE_BIT) {
        block *prev = (block *)((char *)b - b->prev_size);
        unlink_free(prev);
        size += size_of(prev);
        b = prev; /* its own predecessor is in use: blocks never sit free side by side */
    }
    b->size = size | FREE_BIT;
    next = after(b);
    next->prev_size = size;
    next->size |= PREV_FREE_BIT;
    link_free(b);
}

/* Cut the used block b down to size bytes, releasing the rest if it can hold a block. */
static void trim(block *b, uint32_t size) {
    uint32_t have = size_of(b);
    if (have - size < MIN_BLOCK) return;
    block *rest = (block *)((char *)b + size);
    rest->size = have - size;
    b->size = size | (b->size & PREV_FREE_BIT);
    release(rest);
}

/* Add a run of fresh memory [start, end) to the heap, after the last run when it adjoins it. */
static void add_run(uintptr_t start, uintptr_t end) {
    block *b;
    if (heap_end && start == heap_end) {
        b = (block *)(start - HEADER); /* the old end marker becomes the new block's header */
        b->size = (uint32_t)(end - HEADER - (uintptr_t)b) | (b->size & PREV_FREE_BIT);
    } else {
        uintptr_t first = ((start + HEADER + GRANULE - 1) & ~(uintptr_t)(GRANULE - 1)) - HEADER;
        if (end - HEADER < first + MIN_BLOCK) return;
        b = (block *)first;
        b->size = (uint32_t)(end - HEADER - first);
    }
    block *end_marker = (block *)(end - HEADER);
    end_marker->size = 0;
    heap_end = end;
    release(b);
}

/* A free block of at least size bytes: the head of the first list whose blocks all fit (O(1)),
 * else the first that fits in size's own list, so a block that fits is never passed over
 * for growing memory. */
static block *find(uint32_t size) {
    int fl, sl;
    uint32_t rounded = size;
    if (size >= (1u << FL_SHIFT)) rounded += (1u << (31 - __builtin_clz(size) - SL_BITS)) - 1;
    mapping(rounded, &fl, &sl);
    uint32_t sl_map = sl_bitmap[fl] & (~0u << sl);
    if (!sl_map) {
        uint32_t fl_map = fl < FL_COUNT - 1 ? fl_bitmap & (~0u << (fl + 1)) : 0;
        if (fl_map) {
            fl = __builtin_ctz(fl_map);
            sl_map = sl_bitmap[fl];
        }
    }
    if (sl_map) return heads[fl][__builtin_ctz(sl_map)];
    mapping(size, &fl, &sl);
    for (block *b = heads[fl][sl]; b; b = b->next_free)
        if (size_of(b) >= size) return b;
    return NULL;
}

static int grow(uint32_t size) {
    uint32_t pages = (size + 2 * GRANULE + PAGE - 1) / PAGE;
    size_t old = __builtin_wasm_memory_grow(0, pages);
    if (old == (size_t)-1) return 0;
    add_run((uintptr_t)old * PAGE, ((uintptr_t)old + pages) * PAGE);
    return 1;
}

static block *allocate(size_t n) {
    if (n > MAX_REQUEST) return NULL;
    if (!heap_end) add_run((uintptr_t)&__heap_base, (uintptr_t)__builtin_wasm_memory_size(0) * PAGE);
    uint32_t size = n + HEADER <= MIN_BLOCK ? MIN_BLOCK : ((uint32_t)n + HEADER + GRANULE - 1) & ~(GRANULE - 1);
    block *b = find(size);
    if (!b) {
        if (!grow(size)) return NULL;
        b = find(size);
        if (!b) return NULL;
    }
    unlink_free(b);
    b->size &= ~FREE_BIT;
    after(b)->size &= ~PREV_FREE_BIT;
    trim(b, size);
    return b;
}

static block *owned(void *p) {
    block *b = block_of(p);
    if (((uintptr_t)p & (GRANULE - 1)) || (b->size & FREE_BIT) || size_of(b) < MIN_BLOCK) __builtin_trap();
    return b;
}

void *malloc(size_t n) {
    block *b = allocate(n);
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    return payload(b);
}

void free(void *p) {
    if (p) release(owned(p));
}

void *calloc(size_t count, size_t n) {
    size_t total;
    if (__builtin_mul_overflow(count, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    void *p = malloc(total);
    if (p) memset(p, 0, total);
    return p;
}

void *realloc(void *p, size_t n) {
    if (!p) return malloc(n);
    if (n == 0) {
        free(p);
        return NULL;
    }
    block *b = owned(p);
    if (n > MAX_REQUEST) {
        errno = ENOMEM;
        return NULL;
    }
    uint32_t size = n + HEADER <= MIN_BLOCK ? MIN_BLOCK : ((uint32_t)n + HEADER + GRANULE - 1) & ~(GRANULE - 1);
    block *next = after(b);
    if (size > size_of(b) && (next->size & FREE_BIT) && size_of(b) + size_of(next) >= size) {
        unlink_free(next);
        b->size += size_of(next);
        after(b)->size &= ~PREV_FREE_BIT;
    }
    if (size <= size_of(b)) {
        trim(b, size);
        return p;
    }
    void *q = malloc(n);
    if (q) {
        memcpy(q, p, size_of(b) - HEADER);
        release(b);
    }
    return q;
}

void *reallocarray(void *p, size_t count, size_t n) {
    size_t total;
    if (__builtin_mul_overflow(count, n, &total)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, total);
}

void *aligned_alloc(size_t alignment, size_t n) {
    if (alignment <= GRANULE) return malloc(n);
    if (alignment & (alignment - 1) || n > MAX_REQUEST - alignment) {
        errno = EINVAL;
        return NULL;
    }
    block *b = allocate(n + alignment + MIN_BLOCK);
    if (!b) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t p = (uintptr_t)payload(b);
    uintptr_t aligned = (p + alignment - 1) & ~(uintptr_t)(alignment - 1);
    if (aligned != p) {
        if (aligned - p < MIN_BLOCK) aligned += alignment;
        block *front = b;
        b = block_of((void *)aligned);
        b->size = size_of(front) - (uint32_t)(aligned - p);
        front->size = (uint32_t)(aligned - p) | (front->size & PREV_FREE_BIT);
        release(front);
    }
    uint32_t size = n + HEADER <= MIN_BLOCK ? MIN_BLOCK : ((uint32_t)n + HEADER + GRANULE - 1) & ~(GRANULE - 1);
    trim(b, size);
    return payload(b);
}

void *memalign(size_t alignment, size_t n) { return aligned_alloc(alignment, n); }

void *valloc(size_t n) { return aligned_alloc(PAGE, n); }

int posix_memalign(void **out, size_t alignment, size_t n) {
    if (alignment < sizeof(void *) || alignment & (alignment - 1)) return EINVAL;
    void *p = aligned_alloc(alignment, n);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}

size_t malloc_usable_size(void *p) { return p ? size_of(owned(p)) - HEADER : 0; }

#pragma clang attribute pop

#endif
