/*
 * Philox4x32-10, bit-identical to core/util/rng.ts: draw i of Rng(seed, stream) is lane i % 4 of
 * philox(counter = [i/4 low 32, i/4 high 32, stream, 0], key = [seed, 0x5eed]). Uniforms and normals
 * are computed in double exactly as the TypeScript does, then rounded to float32 like a Float32Array.
 */
#include "dg_internal.h"

#include <math.h>

#define PHILOX_M0 0xd2511f53u
#define PHILOX_M1 0xcd9e8d57u
#define PHILOX_W0 0x9e3779b9u
#define PHILOX_W1 0xbb67ae85u
#define SEED_HIGH 0x5eedu

void dg_philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1, uint32_t out[4]) {
  for (int round = 0; round < 10; round++) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
    uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

static void block_at(uint32_t seed, uint32_t stream, uint64_t index, uint32_t out[4]) {
  dg_philox4x32((uint32_t)index, (uint32_t)(index >> 32), stream, 0, seed, SEED_HIGH, out);
}

uint32_t dg_rng_u32_at(uint32_t seed, uint32_t stream, uint64_t position) {
  uint32_t block[4];
  block_at(seed, stream, position / 4, block);
  return block[position % 4];
}

static inline double to_uniform(uint32_t u) { return ((double)u + 0.5) / 4294967296.0; }

static inline double box_muller(double u1, double u2) { return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2); }

double dg_rng_uniform_at(uint32_t seed, uint32_t stream, uint64_t position) {
  return to_uniform(dg_rng_u32_at(seed, stream, position));
}

double dg_rng_normal_at(uint32_t seed, uint32_t stream, uint64_t position) {
  return box_muller(dg_rng_uniform_at(seed, stream, position), dg_rng_uniform_at(seed, stream, position + 1));
}

/* Sequential reader that computes each Philox block once. */
typedef struct {
  uint32_t seed, stream;
  uint64_t position, block_index;
  uint32_t block[4];
} reader;

static void reader_init(reader *r, uint32_t seed, uint32_t stream, uint64_t position) {
  r->seed = seed;
  r->stream = stream;
  r->position = position;
  r->block_index = position / 4;
  block_at(seed, stream, r->block_index, r->block);
}

static inline uint32_t reader_next(reader *r) {
  uint64_t index = r->position / 4;
  if (index != r->block_index) {
    r->block_index = index;
    block_at(r->seed, r->stream, index, r->block);
  }
  return r->block[r->position++ % 4];
}

void dg_rng_fill_normal(uint32_t seed, uint32_t stream, uint64_t position, float *out, size_t n) {
  if (n == 0) return;
  reader r;
  reader_init(&r, seed, stream, position);
  for (size_t i = 0; i < n; i++) {
    double u1 = to_uniform(reader_next(&r));
    double u2 = to_uniform(reader_next(&r));
    out[i] = (float)box_muller(u1, u2);
  }
}

void dg_rng_fill_uniform(uint32_t seed, uint32_t stream, uint64_t position, float *out, size_t n) {
  if (n == 0) return;
  reader r;
  reader_init(&r, seed, stream, position);
  for (size_t i = 0; i < n; i++) out[i] = (float)to_uniform(reader_next(&r));
}
