// A stand-in for a renderer or parser that allocates heavily inside every call: it copies each
// word of its input onto the heap, indexes the words in a hash table, renders them into a buffer
// grown with realloc, and frees everything in an order unlike the allocation order.
// benchmarks/bench_drift.py calls it 50 times in one process.
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __wasm__
#include <wasm_ext.h>
#else
#define WASM_EXPORT
#endif

typedef struct node { struct node *next; size_t len; char text[]; } node;

/// Split data into words, copy each onto the heap, index them in a hash table, render
/// "word:count" lines into a growing buffer, free everything; return a checksum.
WASM_EXPORT uint64_t render(const uint8_t *data, size_t data_len) {
    size_t buckets = 4096;
    node **table = calloc(buckets, sizeof *table);
    node **all = NULL; size_t n = 0, cap = 0;
    size_t i = 0;
    while (i < data_len) {
        while (i < data_len && (data[i] == ' ' || data[i] == '\n')) i++;
        size_t start = i;
        while (i < data_len && data[i] != ' ' && data[i] != '\n') i++;
        size_t len = i - start;
        if (!len) continue;
        node *w = malloc(sizeof *w + len + 1);
        memcpy(w->text, data + start, len); w->text[len] = 0; w->len = len;
        uint32_t h = 2166136261u;
        for (size_t k = 0; k < len; k++) h = (h ^ w->text[k]) * 16777619u;
        w->next = table[h % buckets]; table[h % buckets] = w;
        if (n == cap) { cap = cap ? cap * 2 : 64; all = realloc(all, cap * sizeof *all); }
        all[n++] = w;
    }
    char *out = NULL; size_t out_len = 0, out_cap = 0;
    for (size_t k = 0; k < n; k++) {
        size_t need = all[k]->len + 2;
        if (out_len + need > out_cap) { out_cap = (out_cap + need) * 3 / 2; out = realloc(out, out_cap); }
        memcpy(out + out_len, all[k]->text, all[k]->len); out_len += all[k]->len; out[out_len++] = '\n';
    }
    uint64_t sum = out_len;
    for (size_t k = 0; k < out_len; k += 61) sum = sum * 31 + (uint8_t)out[k];
    // free in an order unlike the allocation order (every 7th, then the rest)
    for (size_t k = 0; k < n; k += 7) { free(all[k]); all[k] = NULL; }
    for (size_t k = 0; k < n; k++) free(all[k]);
    free(all); free(out); free(table);
    return sum;
}

#ifdef __wasm__
/// Pages (64 KiB) of linear memory now.
WASM_EXPORT uint32_t memory_pages(void) { return __builtin_wasm_memory_size(0); }
#endif
