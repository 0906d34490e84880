/*
 * DP-SGD's Gaussian noise: N(0, std^2) added to every coordinate of a gradient, from cryptographically
 * secure bits. This is the one random draw in the core that does not come from the seeded Philox
 * stream (an attacker who knows the seed must not be able to subtract the noise), so DP runs are not
 * bit-reproducible.
 *
 * Bits: each call takes a fresh 256-bit key and 64-bit nonce from the kernel (getrandom(2) on Linux,
 * getentropy elsewhere) and expands them with the ChaCha20 block function, the same construction as
 * the kernel's own CRNG and arc4random. Reading all the bits straight from getrandom(2) measured about
 * 250-400 MB/s here: 15-20 ms per WWT-sized critic step, a third of an iteration, for no gain in
 * security over a ChaCha20 stream under a fresh kernel key.
 * Normals: Box-Muller in double precision on one 64-bit word per uniform: u1 in (0, 1] with 52 bits (so
 * log never sees 0; |z| reaches 8.5), u2 in [0, 1) with 54; both outputs of each pair are used.
 */
#include "dg_internal.h"


#include <math.h>
#include <string.h>
#ifdef __linux__
#include <errno.h>
#include <sys/random.h>
#else
#include <unistd.h>
#endif

/* ---------------------------------------------------------------- kernel entropy */

int dg_os_random(void *buf, size_t n) {
  unsigned char *p = buf;
#ifdef __linux__
  while (n > 0) {
    ssize_t got = getrandom(p, n, 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return dg_fail(DG_ERR_IO, "getrandom failed (errno %d): no secure randomness for the DP noise", errno);
    }
    p += got;
    n -= (size_t)got;
  }
#else
  while (n > 0) {
    size_t k = n < 256 ? n : 256;
    if (getentropy(p, k) != 0) return dg_fail(DG_ERR_IO, "getentropy failed: no secure randomness for the DP noise");
    p += k;
    n -= k;
  }
#endif
  return DG_OK;
}

/* ---------------------------------------------------------------- ChaCha20 */

/* DJB's original layout: words 12-13 a 64-bit block counter, 14-15 a 64-bit nonce. LANES blocks are
 * computed side by side in generic vectors (SSE2 pairs on baseline x86-64, NEON elsewhere). */
#define LANES 8
typedef uint32_t v8u32 __attribute__((vector_size(32)));
#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
#define QR(a, b, c, d)                                          \
  x[a] += x[b], x[d] ^= x[a], x[d] = ROTL(x[d], 16);            \
  x[c] += x[d], x[b] ^= x[c], x[b] = ROTL(x[b], 12);            \
  x[a] += x[b], x[d] ^= x[a], x[d] = ROTL(x[d], 8);             \
  x[c] += x[d], x[b] ^= x[c], x[b] = ROTL(x[b], 7);

/* GCC (12, -O3) lowers these vectors to SSE2 pairs in the baseline clone and then warns that in[] "may
 * be used uninitialized", though every lane is written first: a false positive, silenced here only. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
/* out[lane * 16 + i] = word i of block `counter + lane`. Inlined into noise_task's clones (below). */
static inline __attribute__((always_inline)) void chacha20_blocks(const uint32_t key[8], uint64_t nonce, uint64_t counter, uint32_t out[LANES * 16]) {
  static const uint32_t sigma[4] = {0x61707865u, 0x3320646eu, 0x79622d32u, 0x6b206574u};
  v8u32 in[16], x[16];
  for (int i = 0; i < 4; i++) in[i] = (v8u32){0} + sigma[i];
  for (int i = 0; i < 8; i++) in[4 + i] = (v8u32){0} + key[i];
  for (int l = 0; l < LANES; l++) {
    uint64_t c = counter + (uint64_t)l;
    in[12][l] = (uint32_t)c;
    in[13][l] = (uint32_t)(c >> 32);
  }
  in[14] = (v8u32){0} + (uint32_t)nonce;
  in[15] = (v8u32){0} + (uint32_t)(nonce >> 32);
  for (int i = 0; i < 16; i++) x[i] = in[i];
  for (int r = 0; r < 10; r++) {
    QR(0, 4, 8, 12) QR(1, 5, 9, 13) QR(2, 6, 10, 14) QR(3, 7, 11, 15)
    QR(0, 5, 10, 15) QR(1, 6, 11, 12) QR(2, 7, 8, 13) QR(3, 4, 9, 14)
  }
  for (int i = 0; i < 16; i++) x[i] += in[i];
  for (int l = 0; l < LANES; l++)
    for (int i = 0; i < 16; i++) out[l * 16 + i] = x[i][l];
}

#pragma GCC diagnostic pop

void dg_chacha20_block(const uint32_t key[8], uint64_t nonce, uint64_t counter, uint32_t out[16]) {
  uint32_t all[LANES * 16];
  chacha20_blocks(key, nonce, counter, all);
  memcpy(out, all, sizeof(uint32_t) * 16);
}

/* ---------------------------------------------------------------- Gaussian noise */

/* One pass of LANES blocks = LANES * 64 bytes = LANES * 4 pairs of 64-bit words = LANES * 8 normals. */
#define NORMALS_PER_PASS (LANES * 8)
#define PASSES_PER_CHUNK 64

typedef struct {
  uint32_t key[8];
  uint64_t nonce;
  float *x;
  size_t n;
  double std;
} noise_job;

/* Box-Muller, four pairs at a time in generic vectors: r = sqrt(-2 ln u1), z = r (cos, sin)(2 pi u2).
 * log and sincos are evaluated here (not libm's scalar calls, which were most of the noise's cost) to
 * about 1e-15 relative: log by the atanh series on the mantissa reduced to [sqrt(1/2), sqrt(2)),
 * sincos by the quadrant of u2 (exact) and Taylor polynomials around pi/4. */
typedef double v4f64 __attribute__((vector_size(32)));
typedef int64_t v4i64 __attribute__((vector_size(32)));
typedef uint64_t v4u64 __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) void vlog(const v4f64 *x, v4f64 *out) { /* x in (0, 1] */
  v4u64 bits = (v4u64)*x;
  v4u64 biased = bits >> 52; /* exponent + 1023, in [971, 1023] */
  v4f64 m = (v4f64)((bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull); /* [1, 2) */
  v4u64 big = (v4u64)(m > 1.4142135623730951);
  m = (v4f64)(((v4u64)(m * 0.5) & big) | ((v4u64)m & ~big));
  biased -= big; /* big is all ones (-1) where true */
  /* exponent as a double without an int64 conversion (SSE2/AVX2 have none): 2^52 + k has k in its mantissa */
  v4f64 e = (v4f64)(biased | 0x4330000000000000ull) - (0x1p52 + 1023.0);
  v4f64 s = (m - 1.0) / (m + 1.0), s2 = s * s;
  v4f64 p = (v4f64){0} + 1.0 / 25;
  for (int k = 11; k >= 0; k--) p = p * s2 + 1.0 / (2 * k + 1); /* constant-folded */
  *out = e * 0.69314718055994530942 + 2.0 * s * p;
}

/* sin and cos of 2 pi u2 where u2 = (w >> 10) / 2^54: the quadrant is w's top two bits, the angle in it
 * the next 52. */
static inline __attribute__((always_inline)) void vsincos_2pi(const v4u64 *wp, v4f64 *sn, v4f64 *cs) {
  v4u64 w = *wp, q = w >> 62;
  v4f64 f = (v4f64)(((w << 2) >> 12) | 0x3ff0000000000000ull) - 1.0; /* [0, 1) */
  v4f64 y = f * 1.5707963267948966 - 0.78539816339744831;            /* [-pi/4, pi/4) */
  v4f64 y2 = y * y, ps = (v4f64){0} + 1.0, pc = (v4f64){0} + 1.0;
  /* Taylor: sin y = y (1 - y2/(2.3) (1 - y2/(4.5) (...))), cos y = 1 - y2/(1.2) (1 - y2/(3.4) (...)) */
  for (int k = 9; k >= 1; k--) {
    ps = 1.0 - ps * y2 * (1.0 / ((2 * k) * (2 * k + 1)));
    pc = 1.0 - pc * y2 * (1.0 / ((2 * k - 1) * (2 * k)));
  }
  v4f64 sy = y * ps, cy = pc;
  const double h = 0.70710678118654752440;
  v4f64 sx = (sy + cy) * h, cx = (cy - sy) * h; /* x = y + pi/4 in [0, pi/2) */
  /* theta = q pi/2 + x: odd quadrants swap sin and cos; signs flip in quadrants 2,3 (sin) and 1,2 (cos). */
  v4u64 odd = -(q & 1), neg_s = (q >> 1) << 63, neg_c = ((q + 1) >> 1 & 1) << 63;
  v4u64 s1 = ((v4u64)cx & odd) | ((v4u64)sx & ~odd), c1 = ((v4u64)sx & odd) | ((v4u64)cx & ~odd);
  *sn = (v4f64)(s1 ^ neg_s);
  *cs = (v4f64)(c1 ^ neg_c);
}

/* out[2i], out[2i+1] = the two normals of words w[2i] (u1 = 2 - [1, 2) from its top 52 bits, in (0, 1])
 * and w[2i+1] (u2, 54 bits), for i < pairs (a multiple of 4). */
static inline __attribute__((always_inline)) void box_muller4(const uint64_t *w, int pairs, double *out) {
  for (int i = 0; i < pairs; i += 4) {
    v4u64 w1 = {w[2 * i], w[2 * i + 2], w[2 * i + 4], w[2 * i + 6]}, w2 = {w[2 * i + 1], w[2 * i + 3], w[2 * i + 5], w[2 * i + 7]};
    v4f64 u1 = 2.0 - (v4f64)((w1 >> 12) | 0x3ff0000000000000ull);
    v4f64 l, r;
    vlog(&u1, &l);
    l *= -2.0;
    for (int k = 0; k < 4; k++) r[k] = __builtin_sqrt(l[k] > 0 ? l[k] : 0.0);
    v4f64 sn, cs;
    vsincos_2pi(&w2, &sn, &cs);
    v4f64 z0 = r * cs, z1 = r * sn;
    for (int k = 0; k < 4; k++) out[2 * (i + k)] = z0[k], out[2 * (i + k) + 1] = z1[k];
  }
}

void dg_box_muller(const uint64_t *words, size_t pairs, double *out) {
  uint64_t w[8];
  double z[8];
  for (size_t i = 0; i < pairs; i += 4) {
    size_t n = pairs - i < 4 ? pairs - i : 4;
    memset(w, 0, sizeof w);
    memcpy(w, words + 2 * i, sizeof(uint64_t) * 2 * n);
    box_muller4(w, 4, z);
    memcpy(out + 2 * i, z, sizeof(double) * 2 * n);
  }
}

/* The generic vectors above compile to SSE2 on baseline x86-64; GCC's function clones give the noise
 * loop AVX-512 and AVX2 versions too, picked at load time for the CPU (1.6x faster here: 18 -> 11.6 ns
 * per normal on one core). The noise is random either way, so which clone ran does not matter. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
static void noise_task(void *ctx, int chunk, int n_chunks, int thread) {
  const noise_job *j = ctx;
  size_t per_chunk = (size_t)NORMALS_PER_PASS * PASSES_PER_CHUNK;
  size_t begin = (size_t)chunk * per_chunk, end = begin + per_chunk < j->n ? begin + per_chunk : j->n;
  uint64_t counter = (uint64_t)chunk * PASSES_PER_CHUNK * LANES;
  uint32_t block_words[LANES * 16];
  uint64_t words[NORMALS_PER_PASS];
  double z[NORMALS_PER_PASS];
  for (size_t i = begin; i < end; i += NORMALS_PER_PASS, counter += LANES) {
    chacha20_blocks(j->key, j->nonce, counter, block_words);
    /* as 64-bit words (little-endian pairs: the same bits either way); a copy, not a cast, which the
     * aliasing rules would let the compiler reorder once chacha20_blocks is inlined */
    memcpy(words, block_words, sizeof words);
    box_muller4(words, NORMALS_PER_PASS / 2, z);
    size_t count = end - i < NORMALS_PER_PASS ? end - i : NORMALS_PER_PASS;
    float *x = j->x + i;
    for (size_t k = 0; k < count; k++) x[k] += (float)(z[k] * j->std);
  }
}

int dg_add_secure_gaussian(dg_pool *pool, float *x, size_t n, double std) {
  if (n == 0 || std == 0.0) return DG_OK;
  noise_job j;
  uint32_t seed[10];
  int rc = dg_os_random(seed, sizeof seed);
  if (rc) return rc;
  memcpy(j.key, seed, sizeof j.key);
  j.nonce = (uint64_t)seed[8] | (uint64_t)seed[9] << 32;
  j.x = x;
  j.n = n;
  j.std = std;
  size_t per_chunk = (size_t)NORMALS_PER_PASS * PASSES_PER_CHUNK;
  dg_pool_run(pool, noise_task, &j, (int)((n + per_chunk - 1) / per_chunk));
  memset(seed, 0, sizeof seed);
  memset(j.key, 0, sizeof j.key);
  return DG_OK;
}
