/* A one-call parser for newline-separated JSON log lines (see wasm_example/logs.py for the
 * exact rules, which the pure-Python reference there implements too).
 *
 *   {"ts":"2024-09-15T10:30:00Z","level":"ERROR","ip":"10.0.0.42","msg":"..."}
 *
 * Per buffer: line and malformed-line counts, per-level counts, min/max/sum of the epoch
 * timestamps, and the number of distinct source IPs.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wasm_ext.h>

enum { L_DEBUG, L_INFO, L_WARN, L_ERROR, L_CRITICAL, L_OTHER, N_LEVELS };
enum { O_LINES, O_MALFORMED, O_LEVELS, O_TS_MIN = O_LEVELS + N_LEVELS, O_TS_MAX, O_TS_SUM, O_IPS, N_OUT };

#define MAX_VALUE 64 /* longest ts/level/ip value (UTF-8 bytes); a longer one makes the line malformed */

/* ---- distinct IPs: open addressing over (hash, length, bytes) ------------------------- */
typedef struct { uint64_t hash; uint32_t len; uint8_t text[MAX_VALUE]; } ip_slot;
typedef struct { ip_slot *slots; size_t cap, used; } ip_set;

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ull; }
    return h | 1; /* 0 marks an empty slot */
}

static int ip_insert(ip_set *set, const uint8_t *text, size_t len) {
    if ((set->used + 1) * 4 > set->cap * 3) {
        size_t cap = set->cap ? set->cap * 2 : 1024;
        ip_slot *slots = calloc(cap, sizeof(ip_slot));
        if (!slots) return -1;
        for (size_t i = 0; i < set->cap; i++) {
            if (!set->slots[i].hash) continue;
            size_t j = set->slots[i].hash & (cap - 1);
            while (slots[j].hash) j = (j + 1) & (cap - 1);
            slots[j] = set->slots[i];
        }
        free(set->slots);
        set->slots = slots;
        set->cap = cap;
    }
    uint64_t h = fnv1a(text, len);
    size_t j = h & (set->cap - 1);
    while (set->slots[j].hash) {
        ip_slot *s = &set->slots[j];
        if (s->hash == h && s->len == len && memcmp(s->text, text, len) == 0) return 0;
        j = (j + 1) & (set->cap - 1);
    }
    set->slots[j].hash = h;
    set->slots[j].len = (uint32_t)len;
    memcpy(set->slots[j].text, text, len);
    set->used++;
    return 0;
}

/* ---- a strict JSON reader over one line ------------------------------------------------ */
typedef struct { const uint8_t *p, *end; } reader;

static void skip_ws(reader *r) {
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\r' || *r->p == '\n')) r->p++;
}

static int hex4(reader *r, uint32_t *out) {
    if (r->end - r->p < 4) return 0;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = r->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return 0;
    }
    r->p += 4;
    *out = v;
    return 1;
}

/* Length of the well-formed UTF-8 sequence at p (0 if ill-formed), as Python decodes it. */
static size_t utf8_len(const uint8_t *p, const uint8_t *end) {
    uint8_t c = p[0];
    if (c < 0x80) return 1;
    size_t n; uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
    else return 0;
    if ((size_t)(end - p) < n) return 0;
    if (p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++) if (p[i] < 0x80 || p[i] > 0xBF) return 0;
    return n;
}

static size_t put_utf8(uint8_t *out, uint32_t cp) {
    if (cp < 0x80) { out[0] = (uint8_t)cp; return 1; }
    if (cp < 0x800) { out[0] = 0xC0 | (cp >> 6); out[1] = 0x80 | (cp & 0x3F); return 2; }
    if (cp < 0x10000) { out[0] = 0xE0 | (cp >> 12); out[1] = 0x80 | ((cp >> 6) & 0x3F); out[2] = 0x80 | (cp & 0x3F); return 3; }
    out[0] = 0xF0 | (cp >> 18); out[1] = 0x80 | ((cp >> 12) & 0x3F); out[2] = 0x80 | ((cp >> 6) & 0x3F); out[3] = 0x80 | (cp & 0x3F);
    return 4;
}

/* Read a string (r->p at the opening quote). Its decoded bytes go to buf (up to cap; *len is
 * the full decoded length). Returns 0 on invalid JSON. */
static int read_string(reader *r, uint8_t *buf, size_t cap, size_t *len) {
    size_t n = 0;
    uint8_t tmp[4];
    r->p++;
    for (;;) {
        if (r->p >= r->end) return 0;
        uint8_t c = *r->p;
        size_t k;
        const uint8_t *src = tmp;
        if (c == '"') { r->p++; break; }
        if (c < 0x20) return 0;
        if (c == '\\') {
            if (r->end - r->p < 2) return 0;
            uint8_t e = r->p[1];
            r->p += 2;
            switch (e) {
            case '"': tmp[0] = '"'; k = 1; break;
            case '\\': tmp[0] = '\\'; k = 1; break;
            case '/': tmp[0] = '/'; k = 1; break;
            case 'b': tmp[0] = '\b'; k = 1; break;
            case 'f': tmp[0] = '\f'; k = 1; break;
            case 'n': tmp[0] = '\n'; k = 1; break;
            case 'r': tmp[0] = '\r'; k = 1; break;
            case 't': tmp[0] = '\t'; k = 1; break;
            case 'u': {
                uint32_t cp;
                if (!hex4(r, &cp)) return 0;
                if (cp >= 0xD800 && cp <= 0xDBFF && r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u') {
                    reader look = {r->p + 2, r->end};
                    uint32_t low;
                    if (hex4(&look, &low) && low >= 0xDC00 && low <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                        r->p = look.p;
                    }
                }
                k = put_utf8(tmp, cp); /* a lone surrogate is kept as its 3-byte form */
                break;
            }
            default: return 0;
            }
        } else {
            k = utf8_len(r->p, r->end);
            if (!k) return 0;
            src = r->p;
            r->p += k;
        }
        for (size_t i = 0; i < k; i++, n++) if (n < cap) buf[n] = src[i];
    }
    *len = n;
    return 1;
}

static int skip_value(reader *r, int depth);

static int skip_number(reader *r) {
    const uint8_t *p = r->p;
    if (p < r->end && *p == '-') p++;
    if (p >= r->end) return 0;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < r->end && *p >= '0' && *p <= '9') p++;
    else return 0;
    if (p < r->end && *p == '.') {
        p++;
        if (p >= r->end || *p < '0' || *p > '9') return 0;
        while (p < r->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < r->end && (*p == '+' || *p == '-')) p++;
        if (p >= r->end || *p < '0' || *p > '9') return 0;
        while (p < r->end && *p >= '0' && *p <= '9') p++;
    }
    r->p = p;
    return 1;
}

static int skip_literal(reader *r, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) return 0;
    r->p += n;
    return 1;
}

static int skip_value(reader *r, int depth) {
    size_t len;
    if (depth > 64 || r->p >= r->end) return 0;
    switch (*r->p) {
    case '"': return read_string(r, NULL, 0, &len);
    case 't': return skip_literal(r, "true");
    case 'f': return skip_literal(r, "false");
    case 'n': return skip_literal(r, "null");
    case '[': case '{': {
        uint8_t close = *r->p == '[' ? ']' : '}';
        int object = close == '}';
        r->p++;
        skip_ws(r);
        if (r->p < r->end && *r->p == close) { r->p++; return 1; }
        for (;;) {
            if (object) {
                if (r->p >= r->end || *r->p != '"' || !read_string(r, NULL, 0, &len)) return 0;
                skip_ws(r);
                if (r->p >= r->end || *r->p != ':') return 0;
                r->p++;
                skip_ws(r);
            }
            if (!skip_value(r, depth + 1)) return 0;
            skip_ws(r);
            if (r->p < r->end && *r->p == ',') { r->p++; skip_ws(r); continue; }
            if (r->p < r->end && *r->p == close) { r->p++; return 1; }
            return 0;
        }
    }
    default: return skip_number(r);
    }
}

/* ---- field rules ----------------------------------------------------------------------- */
static int digits(const uint8_t *p, int n, int *out) {
    int v = 0;
    for (int i = 0; i < n; i++) { if (p[i] < '0' || p[i] > '9') return 0; v = v * 10 + (p[i] - '0'); }
    *out = v;
    return 1;
}

static int64_t days_from_civil(int64_t y, int m, int d) { /* days since 1970-01-01 */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) -> epoch seconds (fraction dropped). */
static int parse_ts(const uint8_t *s, size_t n, int64_t *out) {
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
    if (n < 20 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
        !digits(s + 8, 2, &d) || s[10] != 'T' || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
        return 0;
    size_t i = 19;
    if (s[i] == '.') {
        size_t start = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == start) return 0;
    }
    if (i < n && s[i] == 'Z') i++;
    else if (i < n && (s[i] == '+' || s[i] == '-')) {
        sign = s[i] == '-' ? -1 : 1;
        if (n - i != 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || !digits(s + i + 4, 2, &om)) return 0;
        i += 6;
    } else return 0;
    if (i != n) return 0;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] + (mo == 2 && leap)) return 0;
    if (h > 23 || mi > 59 || se > 59 || oh > 23 || om > 59) return 0;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - sign * (oh * 3600 + om * 60);
    return 1;
}

static int level_of(uint8_t *s, size_t n) {
    size_t a = 0, b = n;
    while (a < b && (s[a] == ' ' || s[a] == '\t')) a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) b--;
    for (size_t i = a; i < b; i++) if (s[i] >= 'a' && s[i] <= 'z') s[i] -= 32;
    s += a; n = b - a;
#define IS(w) (n == sizeof(w) - 1 && memcmp(s, w, n) == 0)
    if (IS("DEBUG")) return L_DEBUG;
    if (IS("INFO")) return L_INFO;
    if (IS("WARN") || IS("WARNING")) return L_WARN;
    if (IS("ERROR") || IS("ERR")) return L_ERROR;
    if (IS("CRITICAL") || IS("FATAL")) return L_CRITICAL;
#undef IS
    return L_OTHER;
}

/* Field state for one line: 0 absent, 1 string (value kept), 2 present but not a string. */
typedef struct { int state; uint8_t text[MAX_VALUE]; size_t len; } field;

static int read_field(reader *r, field *f) {
    if (*r->p == '"') {
        f->state = 1;
        return read_string(r, f->text, MAX_VALUE, &f->len);
    }
    f->state = 2;
    return skip_value(r, 1);
}

/* 1: a valid record (fields filled in), 0: malformed. */
static int parse_line(const uint8_t *p, const uint8_t *end, field *ts, field *level, field *ip) {
    reader r = {p, end};
    uint8_t key[8];
    size_t klen;
    ts->state = level->state = ip->state = 0;
    skip_ws(&r);
    if (r.p >= r.end || *r.p != '{') return 0;
    r.p++;
    skip_ws(&r);
    if (r.p < r.end && *r.p == '}') { r.p++; goto done; }
    for (;;) {
        if (r.p >= r.end || *r.p != '"' || !read_string(&r, key, sizeof key, &klen)) return 0;
        skip_ws(&r);
        if (r.p >= r.end || *r.p != ':') return 0;
        r.p++;
        skip_ws(&r);
        if (r.p >= r.end) return 0;
        field *f = NULL;
        if (klen == 2 && memcmp(key, "ts", 2) == 0) f = ts;
        else if (klen == 5 && memcmp(key, "level", 5) == 0) f = level;
        else if (klen == 2 && memcmp(key, "ip", 2) == 0) f = ip;
        if (f ? !read_field(&r, f) : !skip_value(&r, 1)) return 0;
        skip_ws(&r);
        if (r.p < r.end && *r.p == ',') { r.p++; skip_ws(&r); continue; }
        if (r.p < r.end && *r.p == '}') { r.p++; break; }
        return 0;
    }
done:
    skip_ws(&r);
    return r.p == r.end;
}

/**
 * Parse newline-separated JSON log lines and summarise them into out (see wasm_example.logs).
 *
 * @return 0, or -1 if out is too short, -2 if memory for the IP set ran out.
 */
WASM_EXPORT int32_t parse_logs(const uint8_t *data, size_t n, int64_t *out, size_t out_len) {
    if (out_len < N_OUT) return -1;
    for (size_t i = 0; i < N_OUT; i++) out[i] = 0;
    ip_set ips = {NULL, 0, 0};
    int have_ts = 0;
    const uint8_t *p = data, *end = data + n;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *line_end = nl ? nl : end;
        const uint8_t *a = p, *b = line_end;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '\r')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '\r')) b--;
        p = nl ? nl + 1 : end;
        if (a == b) continue;
        out[O_LINES]++;
        field ts, level, ip;
        int64_t epoch;
        if (!parse_line(a, b, &ts, &level, &ip) || ts.state != 1 || level.state != 1 || ip.state == 2 ||
            ts.len > MAX_VALUE || level.len > MAX_VALUE || (ip.state == 1 && ip.len > MAX_VALUE) ||
            !parse_ts(ts.text, ts.len, &epoch)) {
            out[O_MALFORMED]++;
            continue;
        }
        out[O_LEVELS + level_of(level.text, level.len)]++;
        if (!have_ts || epoch < out[O_TS_MIN]) out[O_TS_MIN] = epoch;
        if (!have_ts || epoch > out[O_TS_MAX]) out[O_TS_MAX] = epoch;
        have_ts = 1;
        out[O_TS_SUM] += epoch;
        if (ip.state == 1) {
            for (size_t i = 0; i < ip.len; i++) if (ip.text[i] >= 'A' && ip.text[i] <= 'Z') ip.text[i] += 32;
            if (ip_insert(&ips, ip.text, ip.len) != 0) { free(ips.slots); return -2; }
        }
    }
    out[O_IPS] = (int64_t)ips.used;
    free(ips.slots);
    return 0;
}
