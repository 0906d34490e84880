/*
 * Standalone tests of the native core:
 *   - Philox against the Random123 known-answer vectors, and the uniform/normal transforms;
 *   - the GEMM against a naive product for every transpose combination and ragged sizes, on both
 *     kernel sets;
 *   - every layer's backward against central finite differences of its forward (dense, batch norm,
 *     heads, LSTM with BPTT, the WGAN-GP critic with its hand-written double backward);
 *   - Adam against its formula;
 *   - a full iteration's critic and generator gradients against finite differences on a tiny model;
 *   - state round trips, generation invariants, error reporting;
 *   - the tensor dump format (write, read back).
 * Usage: test_dg                      run the tests
 *        test_dg --write-dump FILE    dump one iteration of a tiny model (README.md, "Dump contents")
 *        test_dg --compare FILE       rebuild the model from a dump, rerun its iteration, compare
 */
#include "dg_dump.h"
#include "dg_internal.h"

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures = 0, checks = 0;

#define CHECK(cond, ...)                                      \
  do {                                                        \
    checks++;                                                 \
    if (!(cond)) {                                            \
      failures++;                                             \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);    \
      fprintf(stderr, __VA_ARGS__);                           \
      fprintf(stderr, "\n");                                  \
    }                                                         \
  } while (0)

/* A test-local deterministic generator (xorshift), independent of the code under test. */
static uint64_t test_state = 0x9e3779b97f4a7c15ull; /* DG_TEST_SEED varies it (robustness runs) */
static double test_uniform(void) {
  test_state ^= test_state << 13;
  test_state ^= test_state >> 7;
  test_state ^= test_state << 17;
  return (double)(test_state >> 11) / 9007199254740992.0;
}
static float test_symmetric(float scale) { return (float)((2.0 * test_uniform() - 1.0) * scale); }
static void fill_random(float *x, size_t n, float scale) {
  for (size_t i = 0; i < n; i++) x[i] = test_symmetric(scale);
}
static float *random_array(size_t n, float scale) {
  float *x = malloc(sizeof(float) * (n ? n : 1));
  fill_random(x, n, scale);
  return x;
}
static double dot(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* Compares an analytic gradient with central differences, tolerance atol + rtol * scale. Losses with
 * ReLU masks or the gen-flag mask are only piecewise smooth (the gradient penalty even jumps where a
 * mask flips): for those (piecewise = 1) each probe is taken at eps and eps / 3, and a probe whose two
 * differences disagree, or whose second difference shows a jump, straddles a flip and is skipped
 * (at most two thirds may be). */
typedef double (*loss_fn)(void *ctx);
static double central(loss_fn f, void *ctx, float *p, float eps, double *second, double l0) {
  float saved = *p;
  *p = saved + eps;
  double lp = f(ctx);
  *p = saved - eps;
  double lm = f(ctx);
  *p = saved;
  if (second) *second = fabs(lp - 2.0 * l0 + lm) - (2e-5 + 0.02 * fabs(lp - lm));
  return (lp - lm) / (2.0 * eps);
}

static int fd_check_ex(const char *what, loss_fn f, void *ctx, float *param, const float *grad, size_t n, size_t max_probes, float eps, double atol,
                       double rtol, int piecewise) {
  size_t stride = n > max_probes ? n / max_probes : 1;
  int bad = 0, probes = 0, skipped = 0;
  double worst = 0.0;
  double l0 = f(ctx);
  for (size_t i = (size_t)(test_uniform() * stride) % (stride ? stride : 1); i < n; i += stride) {
    probes++;
    double second;
    double fd = central(f, ctx, &param[i], eps, &second, l0);
    if (piecewise) {
      double fd3 = central(f, ctx, &param[i], eps / 3, NULL, l0);
      double tol3 = atol + rtol * fmax(fabs(fd3), fabs(grad[i]));
      if (second > 0 || fabs(fd - fd3) > 0.5 * tol3) {
        skipped++;
        continue;
      }
      fd = fd3;
    }
    double err = fabs(fd - grad[i]);
    double tol = atol + rtol * fmax(fabs(fd), fabs(grad[i]));
    if (err / tol > worst) worst = err / tol;
    if (err > tol) {
      if (bad < 5) fprintf(stderr, "  %s[%zu]: analytic %.6g, finite difference %.6g\n", what, i, grad[i], fd);
      bad++;
    }
  }
  f(ctx); /* leave the context evaluated at the unperturbed point */
  /* Piecewise losses: a flip too close to the probe point to detect can still spoil a probe, so most
   * (not all) must agree; a wrong gradient fails nearly every probe. */
  int allowed = piecewise ? (probes - skipped) / 5 : 0;
  CHECK(bad <= allowed, "%s: gradient disagrees with finite differences at %d of %d probes (worst error/tolerance %.2f)", what, bad, probes - skipped,
        worst);
  /* The first critic layer's biases move every unit downstream, so their probes straddle flips often. */
  CHECK(skipped * 3 <= 2 * probes, "%s: %d of %d probes hit a non-smooth point", what, skipped, probes);
  return bad;
}

static int fd_check(const char *what, loss_fn f, void *ctx, float *param, const float *grad, size_t n, size_t max_probes, float eps, double atol,
                    double rtol) {
  return fd_check_ex(what, f, ctx, param, grad, n, max_probes, eps, atol, rtol, 0);
}

/* ---------------------------------------------------------------- RNG */

static void test_philox(void) {
  /* Random123's known-answer vectors for philox4x32-10. */
  uint32_t out[4];
  dg_philox4x32(0, 0, 0, 0, 0, 0, out);
  CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu && out[3] == 0x9b00dbd8u, "philox KAT zeros");
  dg_philox4x32(~0u, ~0u, ~0u, ~0u, ~0u, ~0u, out);
  CHECK(out[0] == 0x408f276du && out[1] == 0x41c83b0eu && out[2] == 0xa20bc7c6u && out[3] == 0x6d5451fdu, "philox KAT ones");
  dg_philox4x32(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, out);
  CHECK(out[0] == 0xd16cfe09u && out[1] == 0x94fdccebu && out[2] == 0x5001e420u && out[3] == 0x24126ea1u, "philox KAT pi");

  /* Draw i is lane i % 4 of block i / 4, counter [i/4 low, i/4 high, stream, 0], key [seed, 0x5eed]. */
  uint64_t big = (5ull << 32) * 4 + 6;
  dg_philox4x32((uint32_t)(big / 4), (uint32_t)((big / 4) >> 32), 2, 0, 77, 0x5eed, out);
  CHECK(dg_rng_u32_at(77, 2, big) == out[2], "draw position -> counter mapping above 2^32 blocks");

  float u[1000], z[20000];
  dg_rng_fill_uniform(3, 1, 0, u, 1000);
  int in_range = 1;
  for (int i = 0; i < 1000; i++) in_range &= u[i] > 0.0f && u[i] < 1.0f;
  CHECK(in_range, "uniforms lie in (0, 1)");
  CHECK(u[7] == (float)dg_rng_uniform_at(3, 1, 7), "fill_uniform matches uniform_at");
  dg_rng_fill_normal(3, 2, 10, z, 20000);
  CHECK(z[5] == (float)dg_rng_normal_at(3, 2, 20), "the 6th normal from position 10 uses draws 20 and 21");
  double s = 0, q = 0;
  for (int i = 0; i < 20000; i++) {
    s += z[i];
    q += (double)z[i] * z[i];
  }
  CHECK(fabs(s / 20000) < 0.03 && fabs(q / 20000 - 1.0) < 0.05, "normals have mean 0, variance 1 (got %g, %g)", s / 20000, q / 20000);
}

/* ---------------------------------------------------------------- GEMM */

static void test_gemm_with(const dg_kernels *k, dg_pool *pool) {
  dg_kernels_force(k);
  int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {6, 16, 8}, {13, 37, 300}, {100, 400, 100}, {150, 33, 600}, {5, 1666, 20}, {300, 7, 1}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++) {
        float *A = random_array((size_t)M * K, 1), *B = random_array((size_t)K * N, 1);
        float *C = random_array((size_t)M * N, 1), *C0 = malloc(sizeof(float) * M * N);
        memcpy(C0, C, sizeof(float) * M * N);
        float alpha = 0.75f, beta = (s % 2) ? 0.5f : 0.0f;
        int lda = ta ? M : K, ldb = tb ? K : N;
        dg_gemm(pool, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
        double worst = 0;
        for (int i = 0; i < M; i++)
          for (int j = 0; j < N; j++) {
            double ref = 0;
            for (int kk = 0; kk < K; kk++) ref += (double)(ta ? A[kk * lda + i] : A[i * lda + kk]) * (tb ? B[j * ldb + kk] : B[kk * ldb + j]);
            ref = alpha * ref + beta * C0[i * N + j];
            double e = fabs(ref - C[i * N + j]) / (1e-3 + sqrt((double)K));
            worst = e > worst ? e : worst;
          }
        CHECK(worst < 1e-5, "gemm %s %dx%dx%d ta=%d tb=%d pool=%d: error %g", k->name, M, N, K, ta, tb, dg_pool_size(pool), worst);
        free(A);
        free(B);
        free(C);
        free(C0);
      }
  }
  /* beta = 0 must not read C (NaN there must not leak). */
  float A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4] = {NAN, NAN, NAN, NAN};
  dg_gemm(pool, 0, 0, 2, 2, 3, 1.0f, A, 3, B, 2, 0.0f, C, 2);
  CHECK(C[0] == 4 && C[1] == 5 && C[2] == 10 && C[3] == 11, "gemm with beta = 0 ignores C");
  dg_kernels_force(NULL);
}

static void test_gemm(void) {
  dg_pool *pool = dg_pool_create(3);
  test_gemm_with(dg_kernels_portable(), NULL);
  test_gemm_with(dg_kernels_portable(), pool);
  if (dg_kernels_avx512()) {
    test_gemm_with(dg_kernels_avx512(), NULL);
    test_gemm_with(dg_kernels_avx512(), pool);
  }
  if (dg_kernels_avx2()) {
    test_gemm_with(dg_kernels_avx2(), NULL);
    test_gemm_with(dg_kernels_avx2(), pool);
  } else {
    printf("  (no AVX2/FMA on this CPU: only the portable kernels were tested)\n");
  }
  dg_pool_destroy(pool);
}

static void test_vector_kernels_of(const dg_kernels *k) {
  float x[37], y[37];
  for (int i = 0; i < 37; i++) x[i] = y[i] = -30.0f + 1.7f * i;
  k->vexp(x, 37);
  double worst = 0;
  for (int i = 0; i < 37; i++) worst = fmax(worst, fabs(x[i] - expf(y[i])) / expf(y[i]));
  CHECK(worst < 5e-7, "%s vector exp relative error %g", k->name, worst);
  /* LSTM cells: the AVX2 and portable kernels agree (H = 13 exercises the vector tail). */
  int rows = 3, H = 13;
  float *g1 = random_array(rows * 4 * H, 4), *g2 = malloc(sizeof(float) * rows * 4 * H), *cp = random_array(rows * H, 2);
  memcpy(g2, g1, sizeof(float) * rows * 4 * H);
  float c1[39], c2[39], t1[39], t2[39], h1[39], h2[39];
  float *base = random_array(rows * 4 * H, 1);
  k->lstm_cell(rows, H, g1, base, cp, c1, t1, h1, H);
  dg_kernels_portable()->lstm_cell(rows, H, g2, base, cp, c2, t2, h2, H);
  free(base);
  worst = 0;
  for (int i = 0; i < rows * H; i++) worst = fmax(worst, fabs(h1[i] - h2[i]) + fabs(c1[i] - c2[i]) + fabs(t1[i] - t2[i]));
  for (int i = 0; i < rows * 4 * H; i++) worst = fmax(worst, fabs(g1[i] - g2[i]));
  CHECK(worst < 1e-6, "%s and portable LSTM cells differ by %g", k->name, worst);
  free(g1);
  free(g2);
  free(cp);
}

static void test_vector_kernels(void) {
  if (dg_kernels_avx2()) test_vector_kernels_of(dg_kernels_avx2());
  if (dg_kernels_avx512()) test_vector_kernels_of(dg_kernels_avx512());
}

/* ---------------------------------------------------------------- layers */

typedef struct {
  int rows, in, out;
  float *x, *W, *b, *R, *y;
} dense_ctx;

static double dense_loss(void *p) {
  dense_ctx *c = p;
  dg_dense_forward(NULL, c->y, c->x, c->W, c->b, c->rows, c->in, c->out);
  return dot(c->y, c->R, (size_t)c->rows * c->out);
}

static void test_dense(void) {
  dense_ctx c = {5, 7, 4};
  c.x = random_array(c.rows * c.in, 1);
  c.W = random_array(c.in * c.out, 1);
  c.b = random_array(c.out, 1);
  c.R = random_array(c.rows * c.out, 1);
  c.y = malloc(sizeof(float) * c.rows * c.out);
  float *dx = malloc(sizeof(float) * c.rows * c.in), *dW = calloc(c.in * c.out, 4), *db = calloc(c.out, 4);
  dg_dense_backward(NULL, dx, dW, db, c.R, c.x, c.W, c.rows, c.in, c.out);
  fd_check("dense dx", dense_loss, &c, c.x, dx, c.rows * c.in, 100, 1e-2f, 1e-4, 1e-3);
  fd_check("dense dW", dense_loss, &c, c.W, dW, c.in * c.out, 100, 1e-2f, 1e-4, 1e-3);
  fd_check("dense db", dense_loss, &c, c.b, db, c.out, 100, 1e-2f, 1e-4, 1e-3);
  free(c.x), free(c.W), free(c.b), free(c.R), free(c.y), free(dx), free(dW), free(db);
}

typedef struct {
  int rows, C;
  float *x, *gamma, *beta, *R, *xh, *y, mean[16], var[16], invstd[16];
} bn_ctx;

static double bn_loss(void *p) {
  bn_ctx *c = p;
  memcpy(c->xh, c->x, sizeof(float) * c->rows * c->C);
  dg_batchnorm_forward(c->y, c->xh, c->mean, c->var, c->invstd, c->gamma, c->beta, c->rows, c->C);
  /* A nonlinear read-out so the loss is not invariant to everything batch norm removes. */
  double s = 0;
  for (int i = 0; i < c->rows * c->C; i++) s += c->R[i] * c->y[i] + 0.3 * c->y[i] * c->y[i] * c->y[i];
  return s;
}

static void test_batchnorm(void) {
  bn_ctx c = {6, 5};
  c.x = random_array(c.rows * c.C, 2);
  c.gamma = random_array(c.C, 1);
  c.beta = random_array(c.C, 1);
  c.R = random_array(c.rows * c.C, 1);
  c.xh = malloc(sizeof(float) * c.rows * c.C);
  c.y = malloc(sizeof(float) * c.rows * c.C);
  bn_loss(&c);
  float *dy = malloc(sizeof(float) * c.rows * c.C), *dx = malloc(sizeof(float) * c.rows * c.C), *dg = calloc(c.C, 4), *db = calloc(c.C, 4);
  for (int i = 0; i < c.rows * c.C; i++) dy[i] = c.R[i] + 0.9f * c.y[i] * c.y[i];
  dg_batchnorm_backward(dx, dg, db, dy, c.xh, c.invstd, c.gamma, c.rows, c.C);
  fd_check("batchnorm dx", bn_loss, &c, c.x, dx, c.rows * c.C, 100, 1e-3f, 1e-3, 2e-3);
  fd_check("batchnorm dgamma", bn_loss, &c, c.gamma, dg, c.C, 100, 1e-3f, 1e-3, 2e-3);
  fd_check("batchnorm dbeta", bn_loss, &c, c.beta, db, c.C, 100, 1e-3f, 1e-3, 2e-3);
  /* Inference with running stats equal to the batch's reproduces the training output. */
  bn_loss(&c);
  float *yi = malloc(sizeof(float) * c.rows * c.C);
  dg_batchnorm_inference(yi, c.x, c.mean, c.var, c.gamma, c.beta, c.rows, c.C);
  double worst = 0;
  for (int i = 0; i < c.rows * c.C; i++) worst = fmax(worst, fabs(yi[i] - c.y[i]));
  CHECK(worst < 1e-5, "batchnorm inference with the batch statistics differs by %g", worst);
  free(c.x), free(c.gamma), free(c.beta), free(c.R), free(c.xh), free(c.y), free(dy), free(dx), free(dg), free(db), free(yi);
}

typedef struct {
  int rows, groups, n_vars, width;
  const dg_var *vars;
  float *x, *y, *R;
} heads_ctx;

static double heads_loss(void *p) {
  heads_ctx *c = p;
  memcpy(c->y, c->x, sizeof(float) * c->rows * c->width);
  dg_heads_forward(c->y, c->rows, c->vars, c->n_vars, c->groups);
  return dot(c->y, c->R, (size_t)c->rows * c->width);
}

static void test_heads_with(const dg_kernels *k) {
  dg_kernels_force(k);
  static const dg_var vars[] = {{3, DG_SOFTMAX}, {1, DG_SIGMOID}, {1, DG_TANH}, {2, DG_SOFTMAX}, {2, DG_TANH}};
  heads_ctx c = {4, 3, 5, 0, vars};
  c.width = 9 * c.groups;
  c.x = random_array(c.rows * c.width, 3);
  c.x[0] = 60.0f; /* saturated logits stay finite */
  c.x[3] = -95.0f;
  c.y = malloc(sizeof(float) * c.rows * c.width);
  c.R = random_array(c.rows * c.width, 1);
  heads_loss(&c);
  int ok = 1;
  for (int r = 0; r < c.rows; r++)
    for (int g = 0; g < c.groups; g++) {
      const float *y = c.y + r * c.width + g * 9;
      ok &= fabsf(y[0] + y[1] + y[2] - 1.0f) < 1e-6f && y[3] >= 0 && y[3] <= 1 && fabsf(y[4]) <= 1 && fabsf(y[5] + y[6] - 1.0f) < 1e-6f;
      ok &= fabsf(y[4] - tanhf(c.x[r * c.width + g * 9 + 4])) < 2e-7f;
      ok &= fabsf(y[3] - 1.0f / (1.0f + expf(-c.x[r * c.width + g * 9 + 3]))) < 2e-7f;
    }
  CHECK(ok, "%s heads: softmax sums to 1, sigmoid and tanh match libm", k->name);
  float *dx = malloc(sizeof(float) * c.rows * c.width);
  dg_heads_backward(dx, c.R, c.y, c.rows, vars, 5, c.groups);
  fd_check("heads dx", heads_loss, &c, c.x, dx, c.rows * c.width, 200, 1e-3f, 2e-4, 5e-3);
  free(c.x), free(c.y), free(c.R), free(dx);
  dg_kernels_force(NULL);
}

static void test_heads(void) {
  test_heads_with(dg_kernels_portable());
  if (dg_kernels_avx2()) test_heads_with(dg_kernels_avx2());
  if (dg_kernels_avx512()) test_heads_with(dg_kernels_avx512());
}

typedef struct {
  int steps, rows, nx, H;
  float *x, *base, *gates, *xh, *c, *tc, *Kxh, *packed, *R;
  dg_pool *pool;
} lstm_ctx;

static double lstm_loss(void *p) {
  lstm_ctx *c = p;
  int ld = c->nx + c->H;
  for (int j = 0; j < c->steps; j++)
    for (int r = 0; r < c->rows; r++) memcpy(c->xh + ((size_t)j * c->rows + r) * ld, c->x + ((size_t)j * c->rows + r) * c->nx, sizeof(float) * c->nx);
  dg_lstm_forward(c->pool, c->gates, c->xh, c->base, c->Kxh, c->packed, c->c, c->tc, c->steps, c->rows, c->nx, c->H, 1);
  double s = 0;
  for (int j = 0; j < c->steps; j++)
    for (int r = 0; r < c->rows; r++)
      for (int u = 0; u < c->H; u++) s += c->xh[((size_t)(j + 1) * c->rows + r) * ld + c->nx + u] * c->R[((size_t)j * c->rows + r) * c->H + u];
  return s;
}

static void test_lstm_with(const dg_kernels *k, dg_pool *pool, int rows) {
  dg_kernels_force(k);
  lstm_ctx c = {4, rows, 3, 10};
  c.pool = pool;
  int ld = c.nx + c.H, G4 = 4 * c.H;
  size_t ng = (size_t)c.steps * c.rows * G4, nh = (size_t)c.steps * c.rows * c.H;
  c.x = random_array((size_t)c.steps * c.rows * c.nx, 1.0f);
  c.base = random_array((size_t)c.rows * G4, 1.0f);
  c.gates = malloc(sizeof(float) * ng);
  c.xh = random_array((size_t)(c.steps + 1) * c.rows * ld, 9.0f); /* garbage the forward must not read */
  c.c = malloc(sizeof(float) * nh);
  c.tc = malloc(sizeof(float) * nh);
  c.Kxh = random_array((size_t)ld * G4, 0.5f);
  c.packed = malloc(sizeof(float) * dg_lstm_packed_floats(c.nx, c.H));
  c.R = random_array(nh, 1);
  lstm_loss(&c);
  float *dKxh = calloc((size_t)ld * G4, 4), *dhr = malloc(sizeof(float) * c.rows * c.H), *dc = malloc(sizeof(float) * c.rows * c.H);
  float *dgsum = malloc(sizeof(float) * c.rows * G4);
  dg_lstm_backward(pool, c.gates, c.c, c.tc, c.xh, c.R, c.Kxh, dKxh, dgsum, c.packed, dhr, dc, c.steps, c.rows, c.nx, c.H);
  /* base enters every step's gates: its gradient is the gate gradients summed over steps. */
  float *dbase = calloc((size_t)c.rows * G4, 4);
  for (int j = 0; j < c.steps; j++)
    for (size_t i = 0; i < (size_t)c.rows * G4; i++) dbase[i] += c.gates[j * (size_t)c.rows * G4 + i];
  double worst_sum = 0;
  for (size_t i = 0; i < (size_t)c.rows * G4; i++) worst_sum = fmax(worst_sum, fabs(dgsum[i] - dbase[i]) / (1e-3 + fabs(dbase[i])));
  CHECK(worst_sum < 1e-5, "lstm (%s, %d rows): the backward's step sum of d(gates) matches (%g)", k->name, rows, worst_sum);
  free(dgsum);
  char what[80];
  snprintf(what, sizeof what, "lstm (%s, %d rows) d(base)", k->name, rows);
  /* More rows sum more float rounding into the loss: a larger step keeps it below the tolerance. */
  float eps = rows > 10 ? 1e-2f : 1e-3f;
  fd_check(what, lstm_loss, &c, c.base, dbase, (size_t)c.rows * G4, 150, eps, 5e-4, 5e-3);
  snprintf(what, sizeof what, "lstm (%s, %d rows) dKxh", k->name, rows);
  fd_check(what, lstm_loss, &c, c.Kxh, dKxh, (size_t)ld * G4, 150, eps, 5e-4, 5e-3);
  free(c.x), free(c.base), free(c.gates), free(c.xh), free(c.c), free(c.tc), free(c.Kxh), free(c.packed), free(c.R);
  free(dKxh), free(dhr), free(dc), free(dbase);
  dg_kernels_force(NULL);
}

static void test_lstm(void) {
  test_lstm_with(dg_kernels_portable(), NULL, 3);
  dg_pool *pool = dg_pool_create(2);
  if (dg_kernels_avx2()) {
    test_lstm_with(dg_kernels_avx2(), pool, 3);
    test_lstm_with(dg_kernels_avx2(), pool, 40); /* several row chunks per step */
  }
  if (dg_kernels_avx512()) test_lstm_with(dg_kernels_avx512(), pool, 40);
  dg_pool_destroy(pool);
}

/* The critic's WGAN-GP loss as a function of its weights, for finite differences. */
typedef struct {
  int B, n_hidden, widths[4];
  float lambda;
  float *X; /* [3B, w0]: real, fake, x_hat (kept pristine; the GP pass overwrites x_hat rows) */
  float *params, *grads;
  dg_critic_net net;
  dg_critic_ws ws;
  double mean_real, mean_fake, gp;
} critic_ctx;

static double critic_loss(void *p) {
  critic_ctx *c = p;
  memcpy(c->ws.act[0], c->X, sizeof(float) * 3 * c->B * c->widths[0]);
  dg_critic_forward(NULL, &c->net, &c->ws, 3 * c->B);
  dg_critic_wgan_gp_grads(NULL, &c->net, &c->ws, c->B, c->lambda, &c->mean_real, &c->mean_fake, &c->gp);
  return c->mean_fake - c->mean_real + c->lambda * c->gp;
}

/* The same loss in double precision straight from the definition (forward, then each x_hat row's input
 * gradient by the chain rule): finite differences of it, with a step far below any ReLU flip, check
 * the float double backward exactly. */
static double critic_loss_double(const critic_ctx *c, const double *p) {
  int L = c->n_hidden, B = c->B, w0 = c->widths[0];
  const double *W[4], *bias[4];
  size_t off = 0;
  for (int l = 0; l <= L; l++) {
    W[l] = p + off;
    off += (size_t)c->widths[l] * c->widths[l + 1];
    bias[l] = p + off;
    off += c->widths[l + 1];
  }
  double mean_real = 0, mean_fake = 0, gp = 0;
  for (int r = 0; r < 3 * B; r++) {
    double h[4][32], v[32], nv[32];
    for (int k = 0; k < w0; k++) h[0][k] = c->X[(size_t)r * w0 + k];
    for (int l = 0; l < L; l++)
      for (int j = 0; j < c->widths[l + 1]; j++) {
        double z = bias[l][j];
        for (int k = 0; k < c->widths[l]; k++) z += h[l][k] * W[l][k * c->widths[l + 1] + j];
        h[l + 1][j] = z > 0 ? z : 0;
      }
    double D = bias[L][0];
    for (int k = 0; k < c->widths[L]; k++) D += h[L][k] * W[L][k];
    if (r < B) {
      mean_real += D / B;
    } else if (r < 2 * B) {
      mean_fake += D / B;
    } else {
      for (int k = 0; k < c->widths[L]; k++) v[k] = (L == 0 || h[L][k] > 0) ? W[L][k] : 0;
      for (int l = L - 1; l >= 0; l--) {
        for (int k = 0; k < c->widths[l]; k++) {
          double s = 0;
          for (int j = 0; j < c->widths[l + 1]; j++) s += W[l][k * c->widths[l + 1] + j] * v[j];
          nv[k] = (l == 0 || h[l][k] > 0) ? s : 0;
        }
        memcpy(v, nv, sizeof(double) * c->widths[l]);
      }
      double q = 0;
      for (int k = 0; k < w0; k++) q += v[k] * v[k];
      double norm = sqrt(q > 1e-24 ? q : 1e-24);
      gp += (norm - 1) * (norm - 1) / B;
    }
  }
  return mean_fake - mean_real + c->lambda * gp;
}

static void test_critic_gp(int n_hidden) {
  critic_ctx c;
  memset(&c, 0, sizeof c);
  c.B = 5;
  c.n_hidden = n_hidden;
  int w[4] = {9, 12, 8, 1};
  c.lambda = 10.0f;
  c.net.n_hidden = n_hidden;
  for (int l = 0; l <= n_hidden; l++) c.widths[l] = w[l];
  c.widths[n_hidden + 1] = 1;
  size_t total = 0;
  for (int l = 0; l <= n_hidden; l++) total += (size_t)c.widths[l] * c.widths[l + 1] + c.widths[l + 1];
  c.params = random_array(total, 0.6f);
  c.grads = calloc(total, 4);
  size_t off = 0;
  for (int l = 0; l <= n_hidden + 1; l++) c.net.width[l] = c.widths[l];
  for (int l = 0; l <= n_hidden; l++) {
    c.net.W[l] = c.params + off;
    c.net.dW[l] = c.grads + off;
    off += (size_t)c.widths[l] * c.widths[l + 1];
    c.net.b[l] = c.params + off;
    c.net.db[l] = c.grads + off;
    off += c.widths[l + 1];
  }
  int rows = 3 * c.B;
  c.ws.max_rows = rows;
  for (int l = 0; l <= n_hidden; l++) {
    c.ws.act[l] = malloc(sizeof(float) * rows * c.widths[l]);
    if (l) c.ws.delta[l] = malloc(sizeof(float) * rows * c.widths[l]);
  }
  c.ws.out = malloc(sizeof(float) * rows);
  c.ws.dout = malloc(sizeof(float) * rows);
  c.ws.g = malloc(sizeof(float) * rows * c.widths[0]);
  c.ws.tmp = malloc(sizeof(float) * rows * 16);
  c.ws.norm = malloc(sizeof(float) * rows);
  c.X = random_array((size_t)rows * c.widths[0], 1);
  for (int b = 0; b < c.B; b++) {
    float a = (float)test_uniform();
    for (int k = 0; k < c.widths[0]; k++)
      c.X[(2 * c.B + b) * c.widths[0] + k] = a * c.X[b * c.widths[0] + k] + (1 - a) * c.X[(c.B + b) * c.widths[0] + k];
  }
  critic_loss(&c);
  /* Keep |g| well away from 1 so the penalty's own gradient is large in the check. */
  for (int tries = 0; tries < 8 && c.gp < 0.05; tries++) {
    for (size_t i = 0; i < total; i++) c.params[i] *= 1.6f;
    critic_loss(&c);
  }
  CHECK(c.gp >= 0.05, "the penalty is active in this test (gp = %g)", c.gp);
  memset(c.grads, 0, sizeof(float) * total);
  critic_loss(&c);
  float *analytic = malloc(sizeof(float) * total);
  memcpy(analytic, c.grads, sizeof(float) * total);
  double *pd = malloc(sizeof(double) * total);
  for (size_t i = 0; i < total; i++) pd[i] = c.params[i];
  double loss = critic_loss(&c);
  CHECK(fabs(loss - critic_loss_double(&c, pd)) < 1e-4 * fmax(1, fabs(loss)), "critic loss (%d hidden): float %.8g, double %.8g", n_hidden, loss,
        critic_loss_double(&c, pd));
  int bad = 0;
  double worst = 0;
  for (size_t i = 0; i < total; i++) {
    double saved = pd[i], h = 1e-6;
    pd[i] = saved + h;
    double lp = critic_loss_double(&c, pd);
    pd[i] = saved - h;
    double lm = critic_loss_double(&c, pd);
    pd[i] = saved;
    double fd = (lp - lm) / (2 * h), err = fabs(fd - analytic[i]), tol = 1e-5 + 1e-4 * fmax(fabs(fd), fabs(analytic[i]));
    worst = fmax(worst, err / tol);
    if (err > tol && bad++ < 5) fprintf(stderr, "  critic (%d hidden) param %zu: analytic %.7g, double FD %.7g\n", n_hidden, i, analytic[i], fd);
  }
  CHECK(bad == 0, "critic WGAN-GP (%d hidden): weight gradients (penalty double backward included) vs double-precision finite differences, worst %.2f",
        n_hidden, worst);
  /* The output bias shifts D by a constant, which the loss ignores: its gradient is exactly 0 when the
   * real and fake rows' coefficients (-1/B, 1/B; inexact for B = 5) are summed separately, as in the
   * reference, and not one running sum over both (rounding noise that Adam would turn into a step). */
  CHECK(analytic[total - 1] == 0.0f, "critic WGAN-GP (%d hidden): output bias gradient is exactly 0 (got %g)", n_hidden, analytic[total - 1]);
  free(pd);
  for (int l = 0; l <= n_hidden; l++) free(c.ws.act[l]), free(c.ws.delta[l]);
  free(c.ws.out), free(c.ws.dout), free(c.ws.g), free(c.ws.tmp), free(c.ws.norm), free(c.X), free(c.params), free(c.grads), free(analytic);
}

/* Input gradient of D for the generator step: g = dD/dx * dout. */
typedef struct {
  dg_critic_net net;
  dg_critic_ws ws;
  float *x;
  int w0;
} critic_in_ctx;

static double critic_in_loss(void *p) {
  critic_in_ctx *c = p;
  memcpy(c->ws.act[0], c->x, sizeof(float) * 2 * c->w0);
  dg_critic_forward(NULL, &c->net, &c->ws, 2);
  return 0.7 * c->ws.out[0] - 0.2 * c->ws.out[1];
}

static void test_critic_input_grad(void) {
  critic_in_ctx c;
  memset(&c, 0, sizeof c);
  int w[4] = {7, 10, 6, 1};
  c.w0 = 7;
  c.net.n_hidden = 2;
  for (int l = 0; l < 4; l++) c.net.width[l] = w[l];
  for (int l = 0; l <= 2; l++) {
    c.net.W[l] = random_array(w[l] * w[l + 1], 0.7f);
    c.net.b[l] = random_array(w[l + 1], 0.3f);
    c.ws.act[l] = malloc(sizeof(float) * 2 * w[l]);
    if (l) c.ws.delta[l] = malloc(sizeof(float) * 2 * w[l]);
  }
  c.ws.out = malloc(8), c.ws.dout = malloc(8), c.ws.g = malloc(sizeof(float) * 2 * c.w0);
  c.x = random_array(2 * c.w0, 1);
  critic_in_loss(&c);
  c.ws.dout[0] = 0.7f;
  c.ws.dout[1] = -0.2f;
  dg_critic_backward(NULL, &c.net, &c.ws, 2, 1);
  float g[14];
  memcpy(g, c.ws.g, sizeof g);
  fd_check_ex("critic input gradient", critic_in_loss, &c, c.x, g, 14, 100, 1e-3f, 1e-4, 5e-3, 1);
  for (int l = 0; l <= 2; l++) free((void *)c.net.W[l]), free((void *)c.net.b[l]), free(c.ws.act[l]), free(c.ws.delta[l]);
  free(c.ws.out), free(c.ws.dout), free(c.ws.g), free(c.x);
}

static void test_adam(void) {
  float p[3] = {1, -2, 0.5f}, g[3] = {0.3f, -1e-3f, 0}, m[3] = {0}, v[3] = {0};
  double P[3] = {1, -2, 0.5}, Mm[3] = {0}, V[3] = {0};
  for (int t = 1; t <= 3; t++) {
    dg_adam_update(p, g, m, v, 3, 1e-3f, 0.5f, 0.999f, t);
    for (int i = 0; i < 3; i++) {
      Mm[i] = 0.5 * Mm[i] + 0.5 * g[i];
      V[i] = 0.999 * V[i] + 0.001 * (double)g[i] * g[i];
      double mh = Mm[i] / (1 - pow(0.5, t)), vh = V[i] / (1 - pow(0.999, t));
      P[i] -= 1e-3 * mh / (sqrt(vh) + 1e-8);
    }
  }
  int ok = 1;
  for (int i = 0; i < 3; i++) ok &= fabs(p[i] - P[i]) < 1e-6;
  CHECK(ok, "adam matches its formula (%g %g %g vs %g %g %g)", p[0], p[1], p[2], P[0], P[1], P[2]);
}

/* ---------------------------------------------------------------- DP-SGD: per-example clipping, noise */

static void test_chacha20(void) {
  /* RFC 7539 section 2.3.2 (the IETF layout's 32-bit counter and 96-bit nonce map onto DJB's 64/64). */
  uint32_t key[8], out[16];
  for (int i = 0; i < 8; i++) key[i] = (uint32_t)(4 * i) | (uint32_t)(4 * i + 1) << 8 | (uint32_t)(4 * i + 2) << 16 | (uint32_t)(4 * i + 3) << 24;
  dg_chacha20_block(key, 0x4a000000ull, 1ull | (uint64_t)0x09000000u << 32, out);
  static const uint32_t expect[16] = {0xe4e7f110, 0x15593bd1, 0x1fdd0f50, 0xc47120a3, 0xc7f4d1c7, 0x0368c033, 0x9aaa2204, 0x4e6cd4c3,
                                      0x466482d2, 0x09aa9f07, 0x05d7c214, 0xa2028bd9, 0xd19c12b5, 0xb94e16de, 0xe883d0cb, 0x4e3c50a2};
  CHECK(memcmp(out, expect, sizeof expect) == 0, "ChaCha20 block matches RFC 7539 2.3.2 (got %08x %08x ...)", out[0], out[1]);
  uint32_t r1[4] = {0}, r2[4] = {0};
  CHECK(dg_os_random(r1, sizeof r1) == DG_OK && dg_os_random(r2, sizeof r2) == DG_OK && memcmp(r1, r2, sizeof r1) != 0, "OS randomness differs between calls");
}

static void test_box_muller(void) {
  /* The vector log/sincos against libm on random words and the extremes (u1 = 1, u1 = 2^-52, each quadrant edge). */
  enum { PAIRS = 4099 };
  static uint64_t w[2 * PAIRS];
  static double z[2 * PAIRS];
  for (int i = 0; i < 2 * PAIRS; i++) w[i] = (uint64_t)(test_uniform() * 4294967296.0) << 32 | (uint64_t)(test_uniform() * 4294967296.0);
  uint64_t edges[][2] = {{0, 0}, {~0ull, ~0ull}, {1ull << 63, 1ull << 62}, {3ull << 62, 2ull << 62}, {12345, 3ull << 62}, {~0ull >> 1, (1ull << 62) - 1}};
  for (int e = 0; e < 6; e++) w[2 * e] = edges[e][0], w[2 * e + 1] = edges[e][1];
  dg_box_muller(w, PAIRS, z);
  double worst = 0, q = 0;
  for (int i = 0; i < PAIRS; i++) {
    double u1 = 2.0 - (1.0 + (double)(w[2 * i] >> 12) * 0x1p-52), u2 = (double)(w[2 * i + 1] >> 10) * 0x1p-54;
    double r = sqrt(-2.0 * log(u1)), t = 6.283185307179586 * u2;
    worst = fmax(worst, fmax(fabs(z[2 * i] - r * cos(t)), fabs(z[2 * i + 1] - r * sin(t))));
    q += z[2 * i] * z[2 * i] + z[2 * i + 1] * z[2 * i + 1];
  }
  CHECK(worst < 1e-13, "Box-Muller's vector log/sincos vs libm: worst abs difference %.3g", worst);
  CHECK(z[0] == 0.0 && fabs(z[2] - sqrt(2 * 52 * log(2.0))) < 1e-12, "Box-Muller extremes: u1 = 1 gives 0 (%g), u1 = 2^-52 gives %g", z[0], z[2]);
  CHECK(fabs(q / (2 * PAIRS) - 1) < 0.06, "Box-Muller output variance %g", q / (2 * PAIRS));
}

/* A critic with its parameters, workspace and a [3B, w0] input of real, fake and x_hat rows. */
typedef struct {
  int B, n_hidden, w[DG_MAX_LAYERS + 2];
  size_t total;
  float *params, *grads;
  dg_critic_net net;
  dg_critic_ws ws;
} dp_critic;

static void dp_critic_init(dp_critic *c, int B, int n_hidden, const int *widths, float *params, float *grads) {
  memset(c, 0, sizeof *c);
  c->B = B;
  c->n_hidden = n_hidden;
  c->net.n_hidden = n_hidden;
  for (int l = 0; l <= n_hidden; l++) c->w[l] = widths[l];
  c->w[n_hidden + 1] = 1;
  c->total = 0;
  for (int l = 0; l <= n_hidden; l++) c->total += (size_t)c->w[l] * c->w[l + 1] + c->w[l + 1];
  c->params = params ? params : random_array(c->total, 0.6f);
  c->grads = grads ? grads : calloc(c->total, sizeof(float));
  size_t off = 0;
  for (int l = 0; l <= n_hidden + 1; l++) c->net.width[l] = c->w[l];
  for (int l = 0; l <= n_hidden; l++) {
    c->net.W[l] = c->params + off;
    c->net.dW[l] = c->grads + off;
    off += (size_t)c->w[l] * c->w[l + 1];
    c->net.b[l] = c->params + off;
    c->net.db[l] = c->grads + off;
    off += c->w[l + 1];
  }
  int rows = 3 * B, mw = 1;
  c->ws.max_rows = rows;
  for (int l = 0; l <= n_hidden; l++) {
    c->ws.act[l] = malloc(sizeof(float) * rows * c->w[l]);
    if (l) c->ws.delta[l] = malloc(sizeof(float) * rows * c->w[l]), mw = c->w[l] > mw ? c->w[l] : mw;
  }
  c->ws.out = malloc(sizeof(float) * rows);
  c->ws.dout = malloc(sizeof(float) * rows);
  c->ws.g = malloc(sizeof(float) * rows * c->w[0]);
  c->ws.tmp = malloc(sizeof(float) * rows * mw);
  c->ws.norm = malloc(sizeof(float) * rows);
  c->ws.ex_norm = malloc(sizeof(float) * rows);
  c->ws.clip = malloc(sizeof(float) * rows);
}

static void dp_critic_free(dp_critic *c, int own_params) {
  for (int l = 0; l <= c->n_hidden; l++) free(c->ws.act[l]), free(c->ws.delta[l]);
  free(c->ws.out), free(c->ws.dout), free(c->ws.g), free(c->ws.tmp), free(c->ws.norm), free(c->ws.ex_norm), free(c->ws.clip);
  if (own_params) free(c->params), free(c->grads);
}

/* Gradients of the WGAN-GP loss for rows X [3B, w0] into c->grads (zeroed first); dp NULL = no clipping. */
static void dp_critic_grads(dp_critic *c, dg_pool *pool, const float *X, float lambda, dg_dp_clip *dp, double *gp) {
  double mr, mf, g;
  memset(c->grads, 0, sizeof(float) * c->total);
  memcpy(c->ws.act[0], X, sizeof(float) * 3 * c->B * c->w[0]);
  dg_critic_forward(pool, &c->net, &c->ws, 3 * c->B);
  dg_critic_wgan_gp_grads_dp(pool, &c->net, &c->ws, c->B, lambda, dp, &mr, &mf, &g);
  if (gp) *gp = g;
}

/* Example b's own gradient grad l_b, materialised: the critic step on that one example (B = 1). */
static void explicit_example_grad(const dp_critic *c, const float *X, int b, float lambda, float *out) {
  dp_critic one;
  dp_critic_init(&one, 1, c->n_hidden, c->w, c->params, out);
  int w0 = c->w[0];
  float *x1 = malloc(sizeof(float) * 3 * w0);
  for (int k = 0; k < 3; k++) memcpy(x1 + k * w0, X + (size_t)(k * c->B + b) * w0, sizeof(float) * w0);
  dp_critic_grads(&one, NULL, x1, lambda, NULL, NULL);
  free(x1);
  dp_critic_free(&one, 0);
}

static double max_abs(const float *x, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
  return m;
}

/* Explicit sum_b c_b grad l_b / B for the clip factors c_b = min(1, C / |grad l_b|). */
static void explicit_clipped_sum(const dp_critic *c, const float *X, float lambda, float C, float *sum, double *norms) {
  float *gb = malloc(sizeof(float) * c->total);
  memset(sum, 0, sizeof(float) * c->total);
  for (int b = 0; b < c->B; b++) {
    explicit_example_grad(c, X, b, lambda, gb);
    double n = sqrt(dot(gb, gb, c->total));
    if (norms) norms[b] = n;
    double cb = n > C ? C / n : 1.0;
    for (size_t i = 0; i < c->total; i++) sum[i] += (float)(cb * gb[i] / c->B);
  }
  free(gb);
}

static void test_dp_clip_layer(int n_hidden, dg_pool *pool) {
  int widths[3] = {9, 12, 8}, B = 7;
  float lambda = 10.0f;
  dp_critic c;
  dp_critic_init(&c, B, n_hidden, widths, NULL, NULL);
  int w0 = widths[0];
  float *X = random_array((size_t)3 * B * w0, 1);
  for (int b = 0; b < B; b++) {
    float a = (float)test_uniform();
    for (int k = 0; k < w0; k++) X[(2 * B + b) * w0 + k] = a * X[b * w0 + k] + (1 - a) * X[(B + b) * w0 + k];
  }
  double gp = 0;
  dp_critic_grads(&c, pool, X, lambda, NULL, &gp);
  for (int tries = 0; tries < 8 && gp < 0.05; tries++) { /* an active penalty, so its per-example terms matter */
    for (size_t i = 0; i < c.total; i++) c.params[i] *= 1.6f;
    dp_critic_grads(&c, pool, X, lambda, NULL, &gp);
  }
  float *plain = malloc(sizeof(float) * c.total), *expl = malloc(sizeof(float) * c.total);
  memcpy(plain, c.grads, sizeof(float) * c.total);
  double *norms = malloc(sizeof(double) * B);
  explicit_clipped_sum(&c, X, lambda, INFINITY, expl, norms);

  /* Huge C: the Gram-trick norms match the materialised ones, and the gradient is bit for bit the plain one. */
  dg_dp_clip dp = {1e30f, 0, 0};
  dp_critic_grads(&c, pool, X, lambda, &dp, NULL);
  double worst = 0, mean = 0;
  for (int b = 0; b < B; b++) worst = fmax(worst, fabs(c.ws.ex_norm[b] - norms[b]) / norms[b]), mean += norms[b] / B;
  CHECK(worst < 1e-5, "DP (%d hidden): Gram-trick per-example norms vs materialised per-example gradients, worst relative error %.2g", n_hidden, worst);
  CHECK(fabs(dp.mean_norm - mean) < 1e-5 * mean && dp.clipped_fraction == 0, "DP (%d hidden): mean norm %g (want %g), clipped %g", n_hidden,
        dp.mean_norm, mean, dp.clipped_fraction);
  CHECK(memcmp(plain, c.grads, sizeof(float) * c.total) == 0, "DP (%d hidden): huge C gives the non-DP gradient bit for bit", n_hidden);
  double diff = 0;
  for (size_t i = 0; i < c.total; i++) diff = fmax(diff, fabs(plain[i] - expl[i]));
  CHECK(diff < 1e-5 * max_abs(expl, c.total), "DP (%d hidden): mean of per-example gradients = batch gradient (%.2g)", n_hidden, diff);

  /* C between the norms: some examples clipped; the result is sum_b c_b grad l_b / B. */
  double sorted[16];
  memcpy(sorted, norms, sizeof(double) * B);
  for (int i = 0; i < B; i++)
    for (int k = i + 1; k < B; k++)
      if (sorted[k] < sorted[i]) { double t = sorted[i]; sorted[i] = sorted[k]; sorted[k] = t; }
  float C = (float)(0.5 * (sorted[B / 2 - 1] + sorted[B / 2]));
  explicit_clipped_sum(&c, X, lambda, C, expl, NULL);
  dg_dp_clip dp2 = {C, 0, 0};
  dp_critic_grads(&c, pool, X, lambda, &dp2, NULL);
  diff = 0;
  for (size_t i = 0; i < c.total; i++) diff = fmax(diff, fabs(c.grads[i] - expl[i]));
  int clipped = 0;
  for (int b = 0; b < B; b++) clipped += norms[b] > C;
  CHECK(clipped > 0 && clipped < B && fabs(dp2.clipped_fraction - (double)clipped / B) < 1e-12, "DP (%d hidden): clipped fraction %g, want %d/%d",
        n_hidden, dp2.clipped_fraction, clipped, B);
  CHECK(diff < 1e-5 * max_abs(expl, c.total), "DP (%d hidden): clipped gradient = sum_b c_b grad l_b / B explicitly (max diff %.2g of %.2g)", n_hidden,
        diff, max_abs(expl, c.total));
  free(plain), free(expl), free(norms), free(X);
  dp_critic_free(&c, 1);
}

static void test_dp_clip_layers(void) {
  dg_pool *pool = dg_pool_create(3);
  for (int h = 0; h <= 2; h++) test_dp_clip_layer(h, NULL);
  test_dp_clip_layer(2, pool);
  dg_pool_destroy(pool);
}

/* ---------------------------------------------------------------- the whole model */

static const dg_var tiny_attrs[] = {{3, DG_SOFTMAX}, {1, DG_SIGMOID}, {1, DG_TANH}};
static const dg_var tiny_add[] = {{1, DG_SIGMOID}, {1, DG_SIGMOID}};
static const dg_var tiny_feats[] = {{1, DG_SIGMOID}, {1, DG_TANH}, {2, DG_SOFTMAX}};

static dg_config tiny_config(int gen_flags, int aux, int additional) {
  dg_config c;
  memset(&c, 0, sizeof c);
  c.max_length = 6;
  c.sample_len = 2;
  c.attributes = tiny_attrs;
  c.n_attributes = 3;
  c.additional = additional ? tiny_add : NULL;
  c.n_additional = additional ? 2 : 0;
  c.features = tiny_feats;
  c.n_features = 3;
  c.gen_flags = gen_flags;
  c.attribute_noise_dim = 3;
  c.minmax_noise_dim = 2;
  c.feature_noise_dim = 3;
  c.n_attribute_hidden = 2;
  c.attribute_hidden[0] = 8;
  c.attribute_hidden[1] = 7;
  c.n_minmax_hidden = 1;
  c.minmax_hidden[0] = 6;
  c.lstm_units = 10;
  c.n_critic_hidden = 2;
  c.critic_hidden[0] = 16;
  c.critic_hidden[1] = 12;
  c.n_aux_hidden = aux ? 1 : 0;
  c.aux_hidden[0] = 9;
  c.aux_critic_weight = 0.7f;
  c.gradient_penalty_weight = 10.0f;
  c.generator_lr = 1e-3f;
  c.critic_lr = 2e-3f;
  c.aux_critic_lr = 5e-4f;
  c.adam_beta1 = 0.5f;
  c.adam_beta2 = 0.999f;
  c.critic_steps = 1;
  c.batch_norm_momentum = 0.9f;
  c.threads = 2;
  return c;
}

/* A real batch in the encoded ranges: one-hot attributes, [0,1] / [-1,1] values, gen flags. */
typedef struct {
  int B;
  float *attributes, *additional, *features;
  int32_t *ids; /* training-set row ids: 0 .. B-1 */
  dg_batch batch;
} real_batch;

static void make_real_batch(real_batch *rb, const dg_model *m, const dg_config *c, int B) {
  dg_dims d;
  dg_get_dims(m, &d);
  rb->B = B;
  rb->attributes = calloc((size_t)B * d.attribute, 4);
  rb->additional = calloc((size_t)B * (d.additional ? d.additional : 1), 4);
  rb->features = calloc((size_t)B * d.T * d.feature, 4);
  for (int b = 0; b < B; b++) {
    float *a = rb->attributes + (size_t)b * d.attribute;
    for (int v = 0, o = 0; v < c->n_attributes; o += c->attributes[v].dim, v++) {
      const dg_var *var = &c->attributes[v];
      if (var->activation == DG_SOFTMAX)
        a[o + (int)(test_uniform() * var->dim)] = 1.0f;
      else
        a[o] = var->activation == DG_SIGMOID ? (float)test_uniform() : test_symmetric(1);
    }
    for (int k = 0; k < d.additional; k++) rb->additional[(size_t)b * d.additional + k] = (float)test_uniform();
    int len = c->gen_flags ? 1 + (int)(test_uniform() * d.T) : d.T;
    for (int t = 0; t < len; t++) {
      float *f = rb->features + ((size_t)b * d.T + t) * d.feature;
      for (int v = 0, o = 0; v < c->n_features; o += c->features[v].dim, v++) {
        const dg_var *var = &c->features[v];
        if (c->gen_flags && v == c->n_features - 1) {
          f[o + (t == len - 1)] = 1.0f;
        } else if (var->activation == DG_SOFTMAX) {
          f[o + (int)(test_uniform() * var->dim)] = 1.0f;
        } else {
          f[o] = var->activation == DG_SIGMOID ? (float)test_uniform() : test_symmetric(1);
        }
      }
    }
  }
  rb->batch.size = B;
  rb->batch.attributes = rb->attributes;
  rb->batch.additional = rb->additional;
  rb->batch.features = rb->features;
  rb->ids = malloc(sizeof(int32_t) * B);
  for (int b = 0; b < B; b++) rb->ids[b] = b;
  rb->batch.ids = rb->ids;
}

static void free_real_batch(real_batch *rb) { free(rb->attributes), free(rb->additional), free(rb->features), free(rb->ids); }

/* Rows [first, first + n) of a real batch as a batch of their own (ids included). */
static dg_batch sub_batch(const real_batch *rb, const dg_model *m, int first, int n) {
  dg_dims d;
  dg_get_dims(m, &d);
  dg_batch b = {n, rb->attributes + (size_t)first * d.attribute, rb->additional + (size_t)first * d.additional,
                rb->features + (size_t)first * d.T * d.feature, rb->ids + first};
  return b;
}

typedef struct {
  dg_model *m;
  real_batch *rb;
  int generator;
} model_ctx;

static double model_loss(void *p) {
  model_ctx *c = p;
  dg_losses l;
  if (c->generator) {
    dg_debug_generator_grads(c->m, c->rb->B, &l);
    return l.generator;
  }
  dg_debug_critic_grads(c->m, &c->rb->batch, &l);
  return (double)l.critic + l.aux_critic;
}

static void check_network_grads(dg_model *m, real_batch *rb, int generator, const char *label) {
  model_ctx ctx = {m, rb, generator};
  model_loss(&ctx);
  float *frozen_a = NULL, *frozen_m = NULL;
  if (generator) {
    /* Freeze the stop-gradient copies of A and M at this point's values: the min/max MLP and the LSTM
     * read them, and finite differences must not differentiate through them either. */
    dg_dims d;
    dg_get_dims(m, &d);
    int TF = d.T * d.feature;
    frozen_a = malloc(sizeof(float) * rb->B * d.attribute);
    frozen_m = malloc(sizeof(float) * rb->B * (d.additional ? d.additional : 1));
    const float *X = dg_debug_critic_input(m);
    for (int b = 0; b < rb->B; b++) {
      memcpy(frozen_a + b * d.attribute, X + (size_t)b * d.critic_input + TF, sizeof(float) * d.attribute);
      memcpy(frozen_m + b * d.additional, X + (size_t)b * d.critic_input + TF + d.attribute, sizeof(float) * d.additional);
    }
    dg_debug_freeze_stopgrad(m, frozen_a, d.additional ? frozen_m : NULL);
    model_loss(&ctx);
  }
  size_t n = dg_param_floats(m);
  float *analytic = malloc(sizeof(float) * n);
  memcpy(analytic, dg_grads(m), sizeof(float) * n);
  float *params = dg_params(m);
  for (int i = 0; i < dg_tensor_count(m); i++) {
    dg_tensor_info info;
    dg_tensor_info_at(m, i, &info);
    if (info.kind != DG_TENSOR_PARAM) continue;
    if ((info.network == DG_NET_GENERATOR) != generator) continue;
    char what[160];
    snprintf(what, sizeof what, "%s %s", label, info.name);
    size_t off = dg_param_offset(m, i);
    fd_check_ex(what, model_loss, &ctx, params + off, analytic + off, info.size, 24, 1e-3f, 5e-3, 2e-2, 1);
  }
  dg_debug_freeze_stopgrad(m, NULL, NULL);
  free(frozen_a);
  free(frozen_m);
  free(analytic);
}

static void test_model_gradients(int gen_flags, int aux, int additional) {
  dg_config c = tiny_config(gen_flags, aux, additional);
  dg_model *m;
  int rc = dg_create(&c, 1234, &m);
  CHECK(rc == DG_OK, "create tiny model: %s", dg_error_message());
  if (rc) return;
  real_batch rb;
  make_real_batch(&rb, m, &c, 6);
  /* One real iteration first, so the check runs at trained (non-initial) weights too. */
  dg_losses l;
  rc = dg_train_step(m, &rb.batch, 1, &l);
  CHECK(rc == DG_OK, "train step: %s", dg_error_message());
  char label[64];
  snprintf(label, sizeof label, "[flags=%d aux=%d add=%d] critic-step", gen_flags, aux, additional);
  check_network_grads(m, &rb, 0, label);
  snprintf(label, sizeof label, "[flags=%d aux=%d add=%d] generator-step", gen_flags, aux, additional);
  check_network_grads(m, &rb, 1, label);
  free_real_batch(&rb);
  dg_destroy(m);
}

/* ---------------------------------------------------------------- DP-SGD in the whole model */

static dg_config dp_config(float clip, float sigma) {
  dg_config c = tiny_config(1, 1, 1);
  c.dp_clip_norm = clip;
  c.dp_noise_multiplier = sigma;
  return c;
}

static void test_dp_model_off_equals_huge_clip(void) {
  dg_config c0 = dp_config(0, 0), c1 = dp_config(1e30f, 0), c2 = dp_config(INFINITY, 0);
  c0.critic_steps = c1.critic_steps = c2.critic_steps = 2;
  dg_model *m0, *m1, *m2;
  int rc = dg_create(&c0, 7, &m0) | dg_create(&c1, 7, &m1) | dg_create(&c2, 7, &m2);
  CHECK(rc == DG_OK, "create DP models: %s", dg_error_message());
  if (rc) return;
  real_batch rb[2];
  make_real_batch(&rb[0], m0, &c0, 6);
  make_real_batch(&rb[1], m0, &c0, 6);
  dg_batch batches[2] = {rb[0].batch, rb[1].batch};
  dg_losses l0, l1, l2;
  for (int i = 0; i < 3; i++) {
    rc = dg_train_step(m0, batches, 2, &l0) | dg_train_step(m1, batches, 2, &l1) | dg_train_step(m2, batches, 2, &l2);
    CHECK(rc == DG_OK, "DP train step: %s", dg_error_message());
  }
  size_t n = dg_param_floats(m0);
  int same = memcmp(dg_params(m0), dg_params(m1), n * 4) == 0 && memcmp(dg_adam_m(m0), dg_adam_m(m1), n * 4) == 0 &&
             memcmp(dg_adam_v(m0), dg_adam_v(m1), n * 4) == 0 && memcmp(&l0, &l1, offsetof(dg_losses, dp_grad_norm)) == 0;
  CHECK(same, "DP with C = 1e30 and sigma = 0: parameters, Adam moments and losses bit for bit as without DP");
  CHECK(memcmp(dg_params(m0), dg_params(m2), n * 4) == 0 && l2.dp_grad_norm == 0, "C = infinity is DP off");
  CHECK(l0.dp_grad_norm == 0 && l0.dp_clipped_fraction == 0 && l1.dp_grad_norm > 0 && l1.aux_dp_grad_norm > 0 && l1.dp_clipped_fraction == 0 &&
            l1.aux_dp_clipped_fraction == 0,
        "DP statistics: off %g/%g, huge C norms %g/%g clipped %g/%g", l0.dp_grad_norm, l0.dp_clipped_fraction, l1.dp_grad_norm, l1.aux_dp_grad_norm,
        l1.dp_clipped_fraction, l1.aux_dp_clipped_fraction);
  free_real_batch(&rb[0]), free_real_batch(&rb[1]);
  dg_destroy(m0), dg_destroy(m1), dg_destroy(m2);

  dg_model *bad = NULL;
  dg_config e1 = dp_config(0, 1), e2 = dp_config(NAN, 0), e3 = dp_config(1, -1), e4 = dp_config(INFINITY, 1);
  CHECK(dg_create(&e1, 1, &bad) == DG_ERR_CONFIG && dg_create(&e2, 1, &bad) == DG_ERR_CONFIG && dg_create(&e3, 1, &bad) == DG_ERR_CONFIG &&
            dg_create(&e4, 1, &bad) == DG_ERR_CONFIG,
        "DP configs without a usable clip norm, or with a negative multiplier, are refused");
}

/* One of the model's critics (main or aux) as a dp_critic over its live parameters, and its input rows. */
static void model_critic(dg_model *m, const dg_config *cfg, int aux, int B, dp_critic *c, float **X) {
  dg_dims d;
  dg_get_dims(m, &d);
  int widths[DG_MAX_LAYERS + 1], nh = aux ? cfg->n_aux_hidden : cfg->n_critic_hidden;
  widths[0] = aux ? d.aux_input : d.critic_input;
  for (int l = 0; l < nh; l++) widths[l + 1] = aux ? cfg->aux_hidden[l] : cfg->critic_hidden[l];
  float *params = dg_params(m) + dg_param_offset(m, dg_tensor_find(m, aux ? "aux.dense0.kernel" : "critic.dense0.kernel"));
  dp_critic_init(c, B, nh, widths, params, NULL); /* its own zeroed gradient buffer */
  int w0 = widths[0], TF = d.T * d.feature;
  const float *in = dg_debug_critic_input(m), *a = dg_debug_interpolation(m, aux);
  float *x = malloc(sizeof(float) * 3 * B * w0);
  for (int r = 0; r < 2 * B; r++) memcpy(x + (size_t)r * w0, in + (size_t)r * d.critic_input + (aux ? TF : 0), sizeof(float) * w0);
  for (int b = 0; b < B; b++) {
    float ab = a[b], fb = 1.0f - a[b];
    for (int k = 0; k < w0; k++) x[(size_t)(2 * B + b) * w0 + k] = ab * x[(size_t)b * w0 + k] + fb * x[(size_t)(B + b) * w0 + k];
  }
  *X = x;
}

/* The critic and aux gradients of a model (dg_grads over both critics' parameters). */
static float *critic_grads_copy(dg_model *m, size_t *n) {
  dg_layout L;
  dg_get_layout(m, &L);
  *n = L.net_end[DG_NET_AUX] - L.net_begin[DG_NET_CRITIC];
  float *g = malloc(sizeof(float) * *n);
  memcpy(g, dg_grads(m) + L.net_begin[DG_NET_CRITIC], sizeof(float) * *n);
  return g;
}

/* Poisson-sampled batches (dp_expected_batch = E): the critics' gradients are the sum of the examples'
 * clipped terms over E (not the batch's size), each real example meets one of E fake series generated
 * for the step, ids are required, and the noise drawn per iteration (critic and generator steps of E
 * fake series each, no per-row interpolation draws) does not depend on the batch's size. */
static void test_dp_expected_batch(void) {
  int B = 6, E = 9;
  dg_config c2 = dp_config(1e30f, 0);
  c2.dp_expected_batch = E;
  dg_model *m2;
  int rc = dg_create(&c2, 5, &m2);
  CHECK(rc == DG_OK, "create expected-batch model: %s", dg_error_message());
  if (rc) return;
  real_batch rb;
  make_real_batch(&rb, m2, &c2, B);
  dg_losses l2;
  rc = dg_debug_critic_grads(m2, &rb.batch, &l2);
  CHECK(rc == DG_OK, "critic grads: %s", dg_error_message());
  for (int aux = 0; aux <= 1; aux++) {
    dp_critic c;
    float *X;
    model_critic(m2, &c2, aux, B, &c, &X);
    float *expl = malloc(sizeof(float) * c.total);
    explicit_clipped_sum(&c, X, c2.gradient_penalty_weight, INFINITY, expl, NULL); /* sum_b grad l_b / B */
    const float *got = dg_grads(m2) + dg_param_offset(m2, dg_tensor_find(m2, aux ? "aux.dense0.kernel" : "critic.dense0.kernel"));
    double worst = 0, largest = 0;
    for (size_t i = 0; i < c.total; i++) {
      double want = expl[i] * (double)B / E;
      worst = fmax(worst, fabs(got[i] - want));
      largest = fmax(largest, fabs(want));
    }
    CHECK(largest > 0 && worst <= 1e-5 * largest, "%s critic: gradient over the expected batch %d = sum of the %d examples' terms / %d (max diff %g of %g)",
          aux ? "aux" : "main", E, B, E, worst, largest);
    free(X), free(expl), free(c.grads);
    dp_critic_free(&c, 0);
  }

  /* Noise draws per row: a critic step's (c: generator pass and two interpolation weights) and a
   * generator pass's (g), from models without the setting. */
  dg_config one = dp_config(1e30f, 0), two = dp_config(1e30f, 0);
  two.critic_steps = 2;
  dg_model *m_one, *m_two;
  rc = dg_create(&one, 5, &m_one) | dg_create(&two, 5, &m_two);
  dg_batch twice[2] = {rb.batch, rb.batch};
  dg_counters k0, k1, k2;
  dg_losses l1;
  rc |= dg_train_step(m_one, &rb.batch, 1, &l1) | dg_train_step(m_two, twice, 2, &l1) | dg_train_step(m2, &rb.batch, 1, &l2);
  CHECK(rc == DG_OK, "train steps: %s", dg_error_message());
  dg_get_counters(m_one, &k0), dg_get_counters(m_two, &k1), dg_get_counters(m2, &k2);
  double c = (double)(k1.noise_position - k0.noise_position) / B, g = (double)k0.noise_position / B - c;
  CHECK(c > 0 && g > 0 && (double)k2.noise_position == 2 * E * g,
        "a Poisson iteration draws E = %d fake series for the critic step and %d for the generator step, nothing per real row (noise drawn %llu, want %g)",
        E, E, (unsigned long long)k2.noise_position, 2 * E * g);
  CHECK(isfinite(l2.generator) && l2.dp_grad_norm > 0, "the expected-batch step trains (generator loss %g)", l2.generator);

  dg_batch no_ids = rb.batch;
  no_ids.ids = NULL;
  CHECK(dg_train_step(m2, &no_ids, 1, &l2) == DG_ERR_ARG && strstr(dg_error_message(), "row id"), "Poisson DP without ids is refused: %s",
        dg_error_message());
  CHECK(dg_debug_critic_grads(m2, &no_ids, &l2) == DG_ERR_ARG, "Poisson DP critic grads without ids are refused");
  rb.ids[2] = -1;
  CHECK(dg_train_step(m2, &rb.batch, 1, &l2) == DG_ERR_ARG && strstr(dg_error_message(), "negative"), "a negative id is refused: %s",
        dg_error_message());
  rb.ids[2] = 2;
  CHECK(dg_train_step(m_one, &no_ids, 1, &l1) == DG_OK, "fixed-size DP batches need no ids: %s", dg_error_message());

  dg_model *bad = NULL;
  dg_config off = dp_config(0, 0), negative = dp_config(1, 0);
  off.dp_expected_batch = 10;
  negative.dp_expected_batch = -1;
  CHECK(dg_create(&off, 1, &bad) == DG_ERR_CONFIG && dg_create(&negative, 1, &bad) == DG_ERR_CONFIG,
        "an expected batch size without DP, or a negative one, is refused");
  free_real_batch(&rb);
  dg_destroy(m2), dg_destroy(m_one), dg_destroy(m_two);
}

/* Issue 14: under DP-SGD on Poisson-sampled batches nothing but the clipped, noised sums may depend on
 * the sample. (a) Iterations on samples of different sizes advance the counters identically (a
 * checkpoint's noise position would otherwise sum up the sample sizes). (b) With sigma = 0 and the
 * divisor fixed at E, the critic gradient of S + {x} is that of S plus that of {x} alone: adding a
 * series leaves every other series' clipped term unchanged (DP-SGD's sensitivity argument); with
 * pairing by batch slot and a fake batch as large as the sample it was not. */
static void test_dp_poisson_side_channels(void) {
  int B = 7, E = 5;
  /* A clip norm at the mean per-example norm, so some examples are clipped and some not. */
  dg_config probe = dp_config(1e30f, 0);
  probe.dp_expected_batch = E;
  dg_model *mp;
  int rc = dg_create(&probe, 21, &mp);
  CHECK(rc == DG_OK, "create: %s", dg_error_message());
  if (rc) return;
  real_batch rb;
  make_real_batch(&rb, mp, &probe, B + 1);
  dg_losses l;
  dg_batch all = sub_batch(&rb, mp, 0, B + 1), S = sub_batch(&rb, mp, 0, B), x = sub_batch(&rb, mp, B, 1);
  CHECK(dg_debug_critic_grads(mp, &all, &l) == DG_OK, "probe: %s", dg_error_message());
  float C = l.dp_grad_norm;
  dg_config cfg = dp_config(C, 0);
  cfg.dp_expected_batch = E;
  cfg.critic_steps = 2;
  dg_model *m, *m2;
  rc = dg_create(&cfg, 21, &m) | dg_create(&cfg, 21, &m2);
  CHECK(rc == DG_OK, "create: %s", dg_error_message());
  if (rc) return;

  /* (a) from the same state: 3 iterations on samples of B + 1, B, 1 rows against 3 on 1, 1, B + 1 rows */
  const dg_batch *seq_a[3] = {&all, &S, &x}, *seq_b[3] = {&x, &x, &all};
  dg_losses la, lb;
  for (int i = 0; i < 3; i++) {
    dg_batch ba[2] = {*seq_a[i], *seq_a[i]}, bb[2] = {*seq_b[i], *seq_b[i]};
    rc = dg_train_step(m, ba, 2, &la) | dg_train_step(m2, bb, 2, &lb);
    CHECK(rc == DG_OK, "iteration %d: %s", i + 1, dg_error_message());
  }
  dg_counters ka, kb;
  dg_get_counters(m, &ka), dg_get_counters(m2, &kb);
  CHECK(memcmp(&ka, &kb, sizeof ka) == 0 && ka.noise_position > 0,
        "Poisson DP: counters after 3 iterations do not depend on the sample sizes (noise position %llu vs %llu, critic steps %lld vs %lld)",
        (unsigned long long)ka.noise_position, (unsigned long long)kb.noise_position, (long long)ka.critic_step, (long long)kb.critic_step);

  /* (b) at the trained state of m: the clipped sums (sigma = 0, divisor E) of S + {x}, S and {x} */
  float *g_all, *g_s, *g_x;
  size_t n;
  double clipped;
  CHECK(dg_debug_critic_grads(m, &all, &l) == DG_OK, "critic grads: %s", dg_error_message());
  clipped = l.dp_clipped_fraction;
  g_all = critic_grads_copy(m, &n);
  CHECK(dg_debug_critic_grads(m, &S, &l) == DG_OK, "critic grads: %s", dg_error_message());
  g_s = critic_grads_copy(m, &n);
  CHECK(dg_debug_critic_grads(m, &x, &l) == DG_OK, "critic grads: %s", dg_error_message());
  g_x = critic_grads_copy(m, &n);
  double worst = 0, largest = 0, moved = 0;
  for (size_t i = 0; i < n; i++) {
    double want = (double)g_s[i] + g_x[i];
    worst = fmax(worst, fabs(g_all[i] - want));
    largest = fmax(largest, fabs(want));
    moved = fmax(moved, fabs(g_x[i]));
  }
  CHECK(clipped > 0 && clipped < 1, "some but not all examples clipped (%g)", clipped);
  CHECK(moved > 1e-4 * largest && worst <= 2e-6 * largest,
        "Poisson DP: clipped critic gradient of S + {x} = that of S + that of {x} (max diff %.3g of %.3g; x's own term up to %.3g)", worst, largest, moved);
  /* The same for S in another order: each example's term is keyed by its id, not its batch slot. */
  real_batch rev;
  make_real_batch(&rev, m, &cfg, B);
  dg_dims d;
  dg_get_dims(m, &d);
  size_t TF = (size_t)d.T * d.feature;
  for (int b = 0; b < B; b++) {
    int r = B - 1 - b;
    memcpy(rev.attributes + (size_t)b * d.attribute, rb.attributes + (size_t)r * d.attribute, sizeof(float) * d.attribute);
    memcpy(rev.additional + (size_t)b * d.additional, rb.additional + (size_t)r * d.additional, sizeof(float) * d.additional);
    memcpy(rev.features + b * TF, rb.features + r * TF, sizeof(float) * TF);
    rev.ids[b] = r;
  }
  CHECK(dg_debug_critic_grads(m, &rev.batch, &l) == DG_OK, "critic grads: %s", dg_error_message());
  float *g_rev = critic_grads_copy(m, &n);
  worst = 0;
  for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(g_rev[i] - g_s[i]));
  CHECK(worst <= 2e-6 * largest, "Poisson DP: the clipped sum does not depend on the order of the sample (max diff %.3g of %.3g)", worst, largest);
  free(g_all), free(g_s), free(g_x), free(g_rev);
  free_real_batch(&rb), free_real_batch(&rev);
  dg_destroy(mp), dg_destroy(m), dg_destroy(m2);
}

static void test_dp_model_clipping(void) {
  int B = 6;
  dg_config c0 = dp_config(0, 0);
  dg_model *m0;
  CHECK(dg_create(&c0, 11, &m0) == DG_OK, "create: %s", dg_error_message());
  real_batch rb;
  make_real_batch(&rb, m0, &c0, B);
  dg_losses l;
  dg_debug_critic_grads(m0, &rb.batch, &l);
  /* C at the median of the main critic's per-example norms: some examples clipped, some not. */
  dp_critic c;
  float *X;
  model_critic(m0, &c0, 0, B, &c, &X);
  double norms[16], sorted[16];
  float *expl = malloc(sizeof(float) * c.total);
  explicit_clipped_sum(&c, X, c0.gradient_penalty_weight, INFINITY, expl, norms);
  memcpy(sorted, norms, sizeof(double) * B);
  for (int i = 0; i < B; i++)
    for (int k = i + 1; k < B; k++)
      if (sorted[k] < sorted[i]) { double t = sorted[i]; sorted[i] = sorted[k]; sorted[k] = t; }
  float C = (float)(0.5 * (sorted[B / 2 - 1] + sorted[B / 2]));
  free(X), free(expl), free(c.grads);
  dp_critic_free(&c, 0);

  dg_config c1 = dp_config(C, 0);
  dg_model *m1;
  CHECK(dg_create(&c1, 11, &m1) == DG_OK, "create: %s", dg_error_message());
  dg_debug_critic_grads(m1, &rb.batch, &l);
  CHECK(fabs(l.dp_clipped_fraction - 0.5) < 1e-6 && l.dp_grad_norm > 0, "model DP: half the examples clipped at the median (%g)", l.dp_clipped_fraction);
  for (int aux = 0; aux <= 1; aux++) {
    model_critic(m1, &c1, aux, B, &c, &X);
    expl = malloc(sizeof(float) * c.total);
    double mean = 0;
    explicit_clipped_sum(&c, X, c1.gradient_penalty_weight, C, expl, norms);
    for (int b = 0; b < B; b++) mean += norms[b] / B;
    const float *got = dg_grads(m1) + dg_param_offset(m1, dg_tensor_find(m1, aux ? "aux.dense0.kernel" : "critic.dense0.kernel"));
    double diff = 0;
    for (size_t i = 0; i < c.total; i++) diff = fmax(diff, fabs(got[i] - expl[i]));
    CHECK(diff < 1e-5 * max_abs(expl, c.total), "model DP, %s critic: applied gradient = sum_b c_b grad l_b / B (max diff %.2g of %.2g)",
          aux ? "aux" : "main", diff, max_abs(expl, c.total));
    float reported = aux ? l.aux_dp_grad_norm : l.dp_grad_norm;
    CHECK(fabs(reported - mean) < 1e-5 * mean, "model DP, %s critic: reported mean norm %g, explicit %g", aux ? "aux" : "main", reported, mean);
    free(X), free(expl), free(c.grads);
    dp_critic_free(&c, 0);
  }
  free_real_batch(&rb);
  dg_destroy(m0), dg_destroy(m1);
}

static void test_dp_model_noise(void) {
  int B = 8;
  float C = 0.75f, sigma = 1.3f;
  dg_config c0 = dp_config(C, 0), c1 = dp_config(C, sigma);
  c0.critic_hidden[0] = c1.critic_hidden[0] = 200; /* enough coordinates for tight statistics */
  c0.critic_hidden[1] = c1.critic_hidden[1] = 200;
  c0.aux_hidden[0] = c1.aux_hidden[0] = 300;
  dg_model *m0, *m1;
  CHECK(dg_create(&c0, 5, &m0) == DG_OK && dg_create(&c1, 5, &m1) == DG_OK, "create: %s", dg_error_message());
  real_batch rb;
  make_real_batch(&rb, m0, &c0, B);
  dg_losses l;
  size_t n = dg_param_floats(m0);
  float *clean = malloc(n * 4), *noisy = malloc(n * 4);
  dg_debug_critic_grads(m0, &rb.batch, &l);
  memcpy(clean, dg_grads(m0), n * 4);
  dg_debug_critic_grads(m1, &rb.batch, &l);
  memcpy(noisy, dg_grads(m1), n * 4);
  double want = (double)sigma * C / B;
  for (int net = DG_NET_CRITIC; net <= DG_NET_AUX; net++) {
    size_t b = SIZE_MAX, e = 0;
    for (int i = 0; i < dg_tensor_count(m0); i++) {
      dg_tensor_info info;
      dg_tensor_info_at(m0, i, &info);
      if (info.kind != DG_TENSOR_PARAM || info.network != net) continue;
      size_t o = dg_param_offset(m0, i);
      b = o < b ? o : b;
      e = o + info.size > e ? o + info.size : e;
    }
    double s = 0, q = 0, within = 0, cnt = (double)(e - b);
    for (size_t i = b; i < e; i++) {
      double z = (double)noisy[i] - clean[i];
      s += z, q += z * z, within += fabs(z) < want;
    }
    double sd = sqrt(q / cnt), mean = s / cnt, rel = 6.0 / sqrt(2.0 * cnt); /* 6 standard errors of the sd estimate */
    CHECK(fabs(sd / want - 1) < rel, "DP noise (%s, %.0f coordinates): sd %.5g, want sigma C / B = %.5g", net == DG_NET_CRITIC ? "critic" : "aux", cnt, sd,
          want);
    CHECK(fabs(mean) < 6 * want / sqrt(cnt), "DP noise (%s): mean %.3g is 0", net == DG_NET_CRITIC ? "critic" : "aux", mean);
    CHECK(fabs(within / cnt - 0.682689) < 6 * sqrt(0.68 * 0.32 / cnt), "DP noise (%s): %.4f of it within one sd (normal: 0.6827)",
          net == DG_NET_CRITIC ? "critic" : "aux", within / cnt);
  }
  size_t gb = dg_param_offset(m0, dg_tensor_find(m0, "critic.dense0.kernel"));
  CHECK(memcmp(clean, noisy, gb * 4) == 0, "DP noise leaves the generator's gradients alone");
  dg_debug_critic_grads(m1, &rb.batch, &l);
  size_t same = 0;
  for (size_t i = gb; i < n; i++) same += dg_grads(m1)[i] == noisy[i];
  CHECK(same < (n - gb) / 100, "DP noise differs between two runs of the same seeded step (%zu of %zu coordinates equal)", same, n - gb);
  free(clean), free(noisy);
  free_real_batch(&rb);
  dg_destroy(m0), dg_destroy(m1);
}

static void test_model_behaviour(void) {
  dg_config c = tiny_config(1, 1, 1);
  dg_model *m, *m2;
  CHECK(dg_create(&c, 99, &m) == DG_OK, "create: %s", dg_error_message());
  CHECK(dg_create(&c, 99, &m2) == DG_OK, "create: %s", dg_error_message());
  dg_dims d;
  dg_get_dims(m, &d);
  CHECK(d.attribute == 5 && d.additional == 2 && d.feature == 4 && d.steps == 3 && d.critic_input == 6 * 4 + 7, "dims");

  /* Canonical order and names (params.ts). */
  const char *expected[] = {"gen.attr.dense0.kernel", "gen.attr.dense0.bias", "gen.attr.bn0.gamma", "gen.attr.bn0.beta", "gen.attr.dense1.kernel",
                            "gen.attr.dense1.bias", "gen.attr.bn1.gamma", "gen.attr.bn1.beta", "gen.attr.out.kernel", "gen.attr.out.bias",
                            "gen.minmax.dense0.kernel", "gen.minmax.dense0.bias", "gen.minmax.bn0.gamma", "gen.minmax.bn0.beta",
                            "gen.minmax.out.kernel", "gen.minmax.out.bias", "gen.feat.lstm.kernel", "gen.feat.lstm.bias", "gen.feat.out.kernel",
                            "gen.feat.out.bias", "critic.dense0.kernel", "critic.dense0.bias", "critic.dense1.kernel", "critic.dense1.bias",
                            "critic.out.kernel", "critic.out.bias", "aux.dense0.kernel", "aux.dense0.bias", "aux.out.kernel", "aux.out.bias",
                            "gen.attr.bn0.movingMean", "gen.attr.bn0.movingVariance", "gen.attr.bn1.movingMean", "gen.attr.bn1.movingVariance",
                            "gen.minmax.bn0.movingMean", "gen.minmax.bn0.movingVariance", "gen.attr.dense0.kernel.adam.m",
                            "gen.attr.dense0.kernel.adam.v"};
  int n_expected = sizeof expected / sizeof expected[0];
  int order_ok = dg_tensor_count(m) == 30 + 6 + 60;
  for (int i = 0; i < n_expected && order_ok; i++) {
    dg_tensor_info info;
    dg_tensor_info_at(m, i, &info);
    order_ok = strcmp(info.name, expected[i]) == 0;
    if (!order_ok) fprintf(stderr, "  tensor %d is %s, expected %s\n", i, info.name, expected[i]);
  }
  CHECK(order_ok, "tensor names and order follow params.ts");
  int li = dg_tensor_find(m, "gen.feat.lstm.kernel");
  dg_tensor_info info;
  dg_tensor_info_at(m, li, &info);
  CHECK(info.shape[0] == d.lstm_input + 10 && info.shape[1] == 40, "lstm kernel shape [lstmInput + H, 4H]");
  const float *lb = dg_tensor_data(m, dg_tensor_find(m, "gen.feat.lstm.bias"));
  CHECK(lb[0] == 0 && lb[9] == 0 && lb[10] == 1 && lb[19] == 1 && lb[20] == 0, "LSTM forget-gate bias block is 1");
  /* Glorot: first kernel element is draw 0 of stream 1. */
  const float *k0 = dg_tensor_data(m, 0);
  double limit = sqrt(6.0 / (3 + 8));
  CHECK(k0[0] == (float)((2 * dg_rng_uniform_at(99, 1, 0) - 1) * limit) && k0[1] == (float)((2 * dg_rng_uniform_at(99, 1, 1) - 1) * limit),
        "glorot init draws stream 1 in row-major order");
  const float *ck = dg_tensor_data(m, dg_tensor_find(m, "critic.dense0.kernel"));
  uint64_t pos = 0;
  for (int i = 0; i < dg_tensor_find(m, "critic.dense0.kernel"); i++) {
    dg_tensor_info_at(m, i, &info);
    if (strstr(info.name, "kernel")) pos += info.size;
  }
  limit = sqrt(6.0 / (d.critic_input + 16));
  CHECK(ck[0] == (float)((2 * dg_rng_uniform_at(99, 1, pos) - 1) * limit), "later kernels continue the init stream");

  /* Same seed, same batches -> identical results (threads do not change the arithmetic's order). */
  real_batch rb;
  make_real_batch(&rb, m, &c, 7);
  dg_losses l1, l2;
  for (int it = 0; it < 3; it++) {
    CHECK(dg_train_step(m, &rb.batch, 1, &l1) == DG_OK, "train: %s", dg_error_message());
    CHECK(dg_train_step(m2, &rb.batch, 1, &l2) == DG_OK, "train: %s", dg_error_message());
  }
  CHECK(memcmp(&l1, &l2, sizeof l1) == 0, "training is deterministic");
  CHECK(isfinite(l1.critic) && l1.gradient_penalty >= 0 && l1.aux_gradient_penalty >= 0, "losses are finite");
  dg_counters cn;
  dg_get_counters(m, &cn);
  uint64_t per_pass = 2 * 7 * (3 + 2 + 3 * 3);
  CHECK(cn.generator_step == 3 && cn.critic_step == 3 && cn.aux_critic_step == 3, "step counters");
  CHECK(cn.noise_position == 3 * (2 * per_pass + 2 * 7), "noise position counts every draw (%llu)", (unsigned long long)cn.noise_position);
  const float *mm = dg_tensor_data(m, dg_tensor_find(m, "gen.attr.bn0.movingMean"));
  CHECK(mm[0] != 0.0f, "generator steps update the running mean");

  /* Generation: masks, lengths, ranges. */
  int n = 600;
  float *ga = malloc(sizeof(float) * n * d.attribute), *gm = malloc(sizeof(float) * n * d.additional);
  float *gf = malloc(sizeof(float) * n * d.T * d.feature);
  int32_t *len = malloc(sizeof(int32_t) * n);
  CHECK(dg_generate(m, n, NULL, NULL, ga, gm, gf, len) == DG_OK, "generate: %s", dg_error_message());
  int ok = 1;
  for (int i = 0; i < n; i++) {
    ok &= len[i] >= 1 && len[i] <= d.T;
    ok &= fabsf(ga[i * 5] + ga[i * 5 + 1] + ga[i * 5 + 2] - 1) < 1e-5f;
    for (int t = 0; t < d.T; t++) {
      const float *f = gf + ((size_t)i * d.T + t) * d.feature;
      if (t >= len[i])
        ok &= f[0] == 0 && f[1] == 0 && f[2] == 0 && f[3] == 0;
      else
        ok &= t == len[i] - 1 ? (len[i] == d.T || f[3] > f[2]) : f[3] <= f[2];
    }
  }
  CHECK(ok, "generated series: lengths end at the first 'ends' flag, zero after, softmax sums to 1");
  /* Chunked generation draws the same noise as one pass: the first 10 of 600 equal a 10-series call
   * only when positions match, so compare 600 in one call with 600 over two models instead. */
  dg_counters c1, c2;
  dg_get_counters(m, &c1);
  dg_get_counters(m2, &c2);
  CHECK(c1.noise_position == c2.noise_position + 2 * (uint64_t)n * (3 + 2 + 3 * 3), "generation advances the noise by its draws");

  /* Generation draws noise per block of 1000 series: one call for 2300 equals calls for 1000, 1000, 300. */
  {
    int big = 2300;
    float *fa = malloc(sizeof(float) * big * d.attribute), *fm = malloc(sizeof(float) * big * d.additional);
    float *ff = malloc(sizeof(float) * big * d.T * d.feature), *pf = malloc(sizeof(float) * big * d.T * d.feature);
    int32_t *fl = malloc(sizeof(int32_t) * big);
    dg_counters before, after_one, after_parts;
    dg_get_counters(m, &before);
    dg_generate(m, big, NULL, NULL, fa, fm, ff, fl);
    dg_get_counters(m, &after_one);
    dg_set_counters(m, &before);
    int parts[3] = {1000, 1000, 300}, off = 0;
    for (int p = 0; p < 3; p++) {
      dg_generate(m, parts[p], NULL, NULL, fa + (size_t)off * d.attribute, fm + (size_t)off * d.additional, pf + (size_t)off * d.T * d.feature, fl + off);
      off += parts[p];
    }
    dg_get_counters(m, &after_parts);
    CHECK(memcmp(ff, pf, sizeof(float) * big * d.T * d.feature) == 0 && after_one.noise_position == after_parts.noise_position,
          "generation's noise comes in blocks of 1000 series (reference.ts's GENERATION_CHUNK)");
    int positive_zero = 1;
    for (int i = 0; i < big; i++)
      for (int t = fl[i]; t < d.T; t++)
        for (int f = 0; f < d.feature; f++) positive_zero &= !signbit(ff[((size_t)i * d.T + t) * d.feature + f]);
    CHECK(positive_zero, "padding after a series' end is +0");
    free(fa), free(fm), free(ff), free(pf), free(fl);
  }

  /* Given attributes are kept, and state set/get restores generation exactly. */
  float *given = malloc(sizeof(float) * n * d.attribute);
  for (int i = 0; i < n * d.attribute; i++) given[i] = (float)(i % 5) * 0.1f;
  dg_counters saved;
  dg_get_counters(m, &saved);
  float *gf2 = malloc(sizeof(float) * n * d.T * d.feature);
  CHECK(dg_generate(m, n, given, NULL, ga, gm, gf, len) == DG_OK, "generate given: %s", dg_error_message());
  CHECK(memcmp(ga, given, sizeof(float) * n * d.attribute) == 0, "given attributes are returned unchanged");
  dg_set_counters(m, &saved);
  CHECK(dg_generate(m, n, given, NULL, ga, gm, gf2, len) == DG_OK, "generate again");
  CHECK(memcmp(gf, gf2, sizeof(float) * n * d.T * d.feature) == 0, "restoring the noise position repeats generation");

  /* Copying every state tensor and counter makes a second model continue identically. */
  for (int i = 0; i < dg_tensor_count(m); i++) {
    dg_tensor_info_at(m, i, &info);
    memcpy(dg_tensor_data(m2, i), dg_tensor_data(m, i), sizeof(float) * info.size);
  }
  dg_set_counters(m2, &saved);
  dg_set_counters(m, &saved);
  dg_train_step(m, &rb.batch, 1, &l1);
  dg_train_step(m2, &rb.batch, 1, &l2);
  CHECK(memcmp(&l1, &l2, sizeof l1) == 0, "state round trip continues training identically");

  float scores[7];
  CHECK(dg_critic_scores(m, &rb.batch, scores) == DG_OK && isfinite(scores[0]), "critic scores");

  /* Errors come back as codes and messages. */
  dg_batch empty = {0, NULL, NULL, NULL};
  CHECK(dg_train_step(m, &empty, 1, &l1) == DG_ERR_ARG && strlen(dg_error_message()) > 0, "empty batch is an argument error");
  CHECK(dg_generate(m, 3, NULL, gm, ga, gm, gf, len) == DG_ERR_ARG, "given additional without attributes is refused");
  dg_config bad = c;
  bad.sample_len = 4;
  dg_model *none;
  CHECK(dg_create(&bad, 1, &none) == DG_ERR_CONFIG && strstr(dg_error_message(), "multiple"), "S must divide T: %s", dg_error_message());
  bad = c;
  bad.features = tiny_attrs; /* last variable is not a 2-dim softmax */
  CHECK(dg_create(&bad, 1, &none) == DG_ERR_CONFIG, "gen flags need a 2-dim softmax last");

  free(ga), free(gm), free(gf), free(gf2), free(len), free(given);
  free_real_batch(&rb);
  dg_destroy(m);
  dg_destroy(m2);
}

/* Multi-threaded and single-threaded models agree closely (GEMM splits do not change the sums' order
 * within a tile, so results should be identical). */
static void test_threads_agree(void) {
  dg_config c = tiny_config(1, 1, 1);
  c.critic_hidden[0] = 40;
  c.lstm_units = 24;
  dg_model *a, *b;
  c.threads = 1;
  dg_create(&c, 5, &a);
  c.threads = 3;
  dg_create(&c, 5, &b);
  real_batch rb;
  make_real_batch(&rb, a, &c, 50);
  dg_losses la, lb;
  for (int i = 0; i < 2; i++) {
    dg_train_step(a, &rb.batch, 1, &la);
    dg_train_step(b, &rb.batch, 1, &lb);
  }
  CHECK(memcmp(&la, &lb, sizeof la) == 0, "1 and 3 threads give identical losses (%g vs %g)", la.generator, lb.generator);
  free_real_batch(&rb);
  dg_destroy(a);
  dg_destroy(b);
}

/* ---------------------------------------------------------------- dumps */

static int dump_iteration(const char *path, uint32_t seed);
static int compare_dump(const char *path, int verbose);

static void test_dump_round_trip(void) {
  char path[] = "/tmp/dg_test_dump_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0, "temp file");
  if (fd < 0) return;
  close(fd);
  CHECK(dump_iteration(path, 4242) == DG_OK, "write dump: %s", dg_error_message());
  dg_dump d;
  CHECK(dg_dump_read(path, &d) == DG_OK, "read dump: %s", dg_error_message());
  const dg_dump_tensor *t = dg_dump_find(&d, "init/critic.dense0.kernel");
  CHECK(t && t->ndim == 2 && t->dims[1] == 16, "dump keeps names and shapes");
  dg_dump_free(&d);
  CHECK(compare_dump(path, 0) == 0, "a dump of this engine compares equal to a rerun");
  /* Truncation and bad magic are reported, not crashed on. */
  FILE *f = fopen(path, "r+b");
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fclose(f);
  CHECK(truncate(path, size / 2) == 0, "truncate");
  CHECK(dg_dump_read(path, &d) == DG_ERR_IO && strstr(dg_error_message(), "truncated"), "truncated dump: %s", dg_error_message());
  f = fopen(path, "wb");
  fputs("nope", f);
  fclose(f);
  CHECK(dg_dump_read(path, &d) == DG_ERR_IO && strstr(dg_error_message(), "magic"), "bad magic: %s", dg_error_message());
  remove(path);
}

/* One iteration of the tiny model (gen flags, aux critic, additional attributes, 2 critic steps). */
static int dump_iteration(const char *path, uint32_t seed) {
  dg_config c = tiny_config(1, 1, 1);
  c.critic_steps = 2;
  dg_model *m;
  int rc = dg_create(&c, seed, &m);
  if (rc) return rc;
  real_batch rb[2];
  make_real_batch(&rb[0], m, &c, 6);
  make_real_batch(&rb[1], m, &c, 6);
  dg_batch batches[2] = {rb[0].batch, rb[1].batch};
  rc = dg_dump_iteration(m, &c, seed, batches, 2, path);
  free_real_batch(&rb[0]);
  free_real_batch(&rb[1]);
  dg_destroy(m);
  return rc;
}

static int compare_dump(const char *path, int verbose) { return dg_compare_dump(path, 1e-4, verbose); }

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--write-dump") == 0) {
    int rc = dump_iteration(argv[2], 4242);
    if (rc) fprintf(stderr, "%s\n", dg_error_message());
    return rc ? 1 : 0;
  }
  if (argc == 3 && strcmp(argv[1], "--compare") == 0) return compare_dump(argv[2], 1) == 0 ? 0 : 1;
  if (getenv("DG_TEST_SEED")) test_state += 0x2545f4914f6cdd1dull * (uint64_t)atoll(getenv("DG_TEST_SEED"));
  printf("kernels: %s\n", dg_kernel_name());
  test_philox();
  test_gemm();
  test_vector_kernels();
  test_dense();
  test_batchnorm();
  test_heads();
  test_lstm();
  test_critic_gp(0);
  test_critic_gp(1);
  test_critic_gp(2);
  test_critic_input_grad();
  test_chacha20();
  test_box_muller();
  test_dp_clip_layers();
  test_adam();
  test_model_behaviour();
  test_threads_agree();
  test_model_gradients(1, 1, 1);
  test_model_gradients(0, 0, 0);
  test_model_gradients(1, 0, 1);
  test_dp_model_off_equals_huge_clip();
  test_dp_expected_batch();
  test_dp_poisson_side_channels();
  test_dp_model_clipping();
  test_dp_model_noise();
  test_dump_round_trip();
  printf("%d checks, %d failed\n", checks, failures);
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}
