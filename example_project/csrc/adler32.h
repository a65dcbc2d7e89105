/* Constants of the Adler-32 checksum (RFC 1950). */
#ifndef WASM_EXAMPLE_ADLER32_H
#define WASM_EXAMPLE_ADLER32_H

/* The largest prime below 2^16. */
#define ADLER32_MOD 65521u

/* The largest n with 255n(n+1)/2 + (n+1)(ADLER32_MOD-1) < 2^32: how many bytes can be
 * summed before the 32-bit sums must be reduced. */
#define ADLER32_NMAX 5552u

#endif
