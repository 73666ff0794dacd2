/* lib/core/rng.h -- the one random-number layer of libdh (header-only, no other
 * dependency, so the dh tool may use it too).
 *
 * Two named generators, both fixed forever (seeds, golden vectors and bit-exact
 * resume depend on their streams):
 *   splitmix64 (Steele, Lea & Flood 2014): one word of state, `dh__splitmix64(&s)`;
 *     `dh__rng` wraps it with uniform, bounded and derived streams (data loading,
 *     splits, augmentation, losses, heads, samplers).
 *   xoshiro256** (Blackman & Vigna 2018) seeded through splitmix64: `dh__xrng`, the
 *     weight-initialisation and dropout stream of the neural engine and the heads.
 * Uniform doubles take the top 53 bits of a draw. */
#ifndef DH_CORE_RNG_H
#define DH_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

#define DH__GOLDEN64 0x9E3779B97F4A7C15ull

/** The splitmix64 finaliser (a bijective 64-bit mix). */
static inline uint64_t dh__mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/** Next draw of the splitmix64 stream whose state is *s. */
static inline uint64_t dh__splitmix64(uint64_t *s)
{
    *s += DH__GOLDEN64;
    return dh__mix64(*s);
}

/** Uniform in [0, 1) from the splitmix64 stream *s. */
static inline double dh__splitmix64_unif(uint64_t *s)
{
    return (double)(dh__splitmix64(s) >> 11) * 0x1p-53;
}

/* ---- dh__rng: a splitmix64 stream as an object ---- */
typedef struct dh__rng {
    uint64_t s;
} dh__rng;

static inline uint64_t dh__rng_next(dh__rng *r) { return dh__splitmix64(&r->s); }
/** Uniform in [0, 1). */
static inline double dh__rng_unif(dh__rng *r) { return dh__splitmix64_unif(&r->s); }
/** Uniform integer in [0, n), n > 0, without modulo bias (rejection below 2^64 mod n). */
static inline uint64_t dh__rng_below(dh__rng *r, uint64_t n)
{
    uint64_t lim = (0 - n) % n, x;
    do x = dh__rng_next(r);
    while (x < lim);
    return x % n;
}
/** A stream seeded from several words (seed, epoch, index, view, ...). */
static inline dh__rng dh__rng_derive(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
    dh__rng r = {dh__mix64(a ^ 0x243F6A8885A308D3ull)};
    r.s = dh__mix64(r.s ^ b ^ 0x13198A2E03707344ull);
    r.s = dh__mix64(r.s ^ c ^ 0xA4093822299F31D0ull);
    r.s = dh__mix64(r.s ^ d ^ 0x082EFA98EC4E6C89ull);
    return r;
}

/* ---- dh__xrng: xoshiro256** seeded through splitmix64 ---- */
typedef struct dh__xrng {
    uint64_t s[4];
} dh__xrng;

static inline void dh__xrng_seed(dh__xrng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) r->s[i] = dh__splitmix64(&seed);
}

static inline uint64_t dh__rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t dh__xrng_next(dh__xrng *r)
{
    uint64_t *s = r->s, res = dh__rotl64(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = dh__rotl64(s[3], 45);
    return res;
}

/** Uniform in [0, 1). */
static inline double dh__xrng_uniform(dh__xrng *r) { return (double)(dh__xrng_next(r) >> 11) * 0x1p-53; }

#endif
