/* The guide's per-line design for the log-analytics case study: three exported hot
 * functions, called once each per line from a Python loop that does the rest.
 *
 * The timestamp and level rules are the example's own (logparse.c is included, so both
 * designs run the same parse_ts and level_of); a value is found by scanning for
 * "key":"...", which is enough for the benchmark's well-formed lines (no escapes in
 * ts/level/ip), not a JSON parser.
 */
#include "logparse.c"

/* Where the string value of "key" starts in line, and its length; 0 if there is none. */
static int find_value(const uint8_t *line, size_t n, const char *key, const uint8_t **value, size_t *len) {
    size_t k = strlen(key);
    for (size_t i = 0; i + k + 4 <= n; i++) {
        if (line[i] != '"' || memcmp(line + i + 1, key, k) != 0 || line[i + 1 + k] != '"') continue;
        size_t j = i + k + 2;
        while (j < n && (line[j] == ' ' || line[j] == ':')) j++;
        if (j >= n || line[j] != '"') return 0;
        const uint8_t *start = line + j + 1;
        const uint8_t *stop = memchr(start, '"', n - (j + 1));
        if (!stop) return 0;
        *value = start;
        *len = (size_t)(stop - start);
        return 1;
    }
    return 0;
}

/** Epoch seconds of the line's "ts", or INT64_MIN if it has none or it is invalid. */
WASM_EXPORT int64_t parse_timestamp(const uint8_t *line, size_t line_len) {
    const uint8_t *v;
    size_t n;
    int64_t epoch;
    if (!find_value(line, line_len, "ts", &v, &n) || !parse_ts(v, n, &epoch)) return INT64_MIN;
    return epoch;
}

/** Byte offset of the line's "ip" value (it ends at the next double quote), or -1. */
WASM_EXPORT int32_t extract_ip(const uint8_t *line, size_t line_len) {
    const uint8_t *v;
    size_t n;
    if (!find_value(line, line_len, "ip", &v, &n)) return -1;
    return (int32_t)(v - line);
}

/** Level code of the line's "level" (0 DEBUG .. 4 CRITICAL, 5 other), or -1 if absent. */
WASM_EXPORT int32_t normalize_level(const uint8_t *line, size_t line_len) {
    const uint8_t *v;
    size_t n;
    uint8_t copy[MAX_VALUE];
    if (!find_value(line, line_len, "level", &v, &n) || n > MAX_VALUE) return -1;
    memcpy(copy, v, n);
    return level_of(copy, n);
}
