/*
 * Blocked single-precision GEMM in the BLIS style: op(B) is packed into KC x NR panels, op(A) into
 * MC x KC blocks of MR-row panels, and an MR x NR micro-kernel (AVX2/FMA when the CPU has it, plain C
 * otherwise) does the arithmetic. Transposes are handled entirely by the packing, so the three shapes
 * training needs (X W, dY W^T, X^T dY) share one kernel. Threads split C into column or row stripes.
 */
#include "dg_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

/* ---------------------------------------------------------------- portable kernels */

static void ukernel_portable(int kc, const float *a, const float *b, float *c, int ldc, float alpha, float beta, int mr, int nr) {
  float acc[DG_MR][DG_NR];
  memset(acc, 0, sizeof acc);
  for (int k = 0; k < kc; k++) {
    for (int i = 0; i < DG_MR; i++) {
      float ai = a[k * DG_MR + i];
      for (int j = 0; j < DG_NR; j++) acc[i][j] += ai * b[k * DG_NR + j];
    }
  }
  for (int i = 0; i < mr; i++) {
    float *ci = c + (size_t)i * ldc;
    if (beta == 0.0f)
      for (int j = 0; j < nr; j++) ci[j] = alpha * acc[i][j];
    else
      for (int j = 0; j < nr; j++) ci[j] = alpha * acc[i][j] + beta * ci[j];
  }
}

static void vexp_portable(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = expf(x[i]);
}

static inline float sigmoid_scalar(float x) { return 1.0f / (1.0f + expf(-x)); }

static void lstm_cell_portable(int rows, int H, float *gates, const float *c_prev, float *c, float *tanh_c, float *h) {
  for (int r = 0; r < rows; r++) {
    float *g = gates + (size_t)r * 4 * H;
    for (int u = 0; u < H; u++) {
      float i = sigmoid_scalar(g[u]);
      float f = sigmoid_scalar(g[H + u]);
      float gg = tanhf(g[2 * H + u]);
      float o = sigmoid_scalar(g[3 * H + u]);
      float cp = c_prev ? c_prev[(size_t)r * H + u] : 0.0f;
      float cn = f * cp + i * gg;
      float tc = tanhf(cn);
      g[u] = i;
      g[H + u] = f;
      g[2 * H + u] = gg;
      g[3 * H + u] = o;
      c[(size_t)r * H + u] = cn;
      tanh_c[(size_t)r * H + u] = tc;
      h[(size_t)r * H + u] = o * tc;
    }
  }
}

static const dg_kernels portable = {"portable", ukernel_portable, vexp_portable, lstm_cell_portable};

const dg_kernels *dg_kernels_portable(void) { return &portable; }

static _Atomic(const dg_kernels *) chosen = NULL;

const dg_kernels *dg_kernels_get(void) {
  const dg_kernels *k = atomic_load(&chosen);
  if (k) return k;
  k = dg_kernels_avx2();
  if (!k) k = &portable;
  atomic_store(&chosen, k);
  return k;
}

void dg_kernels_force(const dg_kernels *k) { atomic_store(&chosen, k); }

const char *dg_kernel_name(void) { return dg_kernels_get()->name; }

/* ---------------------------------------------------------------- packing */

/* op(A)[i, k] for the block rows [0, mc), depth [0, kc), into MR-row panels, zero-padded. */
static void pack_a(int trans, const float *A, int lda, int mc, int kc, float *dst) {
  for (int p = 0; p < mc; p += DG_MR) {
    int mr = mc - p < DG_MR ? mc - p : DG_MR;
    if (!trans) {
      for (int i = 0; i < DG_MR; i++) {
        if (i < mr) {
          const float *src = A + (size_t)(p + i) * lda;
          for (int k = 0; k < kc; k++) dst[k * DG_MR + i] = src[k];
        } else {
          for (int k = 0; k < kc; k++) dst[k * DG_MR + i] = 0.0f;
        }
      }
    } else {
      for (int k = 0; k < kc; k++) {
        const float *src = A + (size_t)k * lda + p;
        int i = 0;
        for (; i < mr; i++) dst[k * DG_MR + i] = src[i];
        for (; i < DG_MR; i++) dst[k * DG_MR + i] = 0.0f;
      }
    }
    dst += (size_t)DG_MR * kc;
  }
}

/* op(B)[k, j] for depth [0, kc), columns [0, nc), into NR-column panels, zero-padded. */
static void pack_b(int trans, const float *B, int ldb, int kc, int nc, float *dst) {
  for (int q = 0; q < nc; q += DG_NR) {
    int nr = nc - q < DG_NR ? nc - q : DG_NR;
    if (!trans) {
      for (int k = 0; k < kc; k++) {
        const float *src = B + (size_t)k * ldb + q;
        int j = 0;
        for (; j < nr; j++) dst[k * DG_NR + j] = src[j];
        for (; j < DG_NR; j++) dst[k * DG_NR + j] = 0.0f;
      }
    } else {
      for (int j = 0; j < DG_NR; j++) {
        if (j < nr) {
          const float *src = B + (size_t)(q + j) * ldb;
          for (int k = 0; k < kc; k++) dst[k * DG_NR + j] = src[k];
        } else {
          for (int k = 0; k < kc; k++) dst[k * DG_NR + j] = 0.0f;
        }
      }
    }
    dst += (size_t)DG_NR * kc;
  }
}

/* ---------------------------------------------------------------- serial GEMM */

static void scale_c(int M, int N, float beta, float *C, int ldc) {
  for (int i = 0; i < M; i++) {
    float *ci = C + (size_t)i * ldc;
    if (beta == 0.0f)
      memset(ci, 0, sizeof(float) * N);
    else
      for (int j = 0; j < N; j++) ci[j] *= beta;
  }
}

static void gemm_naive(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float beta,
                       float *C, int ldc) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      float s = 0.0f;
      for (int k = 0; k < K; k++) s += (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) * (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
      C[(size_t)i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j]);
    }
}

static void gemm_serial(float *scratch, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                        int ldb, float beta, float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  if (!scratch) {
    gemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const dg_kernels *kern = dg_kernels_get();
  float *pa = scratch;
  float *pb = scratch + (size_t)DG_MC * DG_KC;
  for (int jc = 0; jc < N; jc += DG_NC) {
    int nc = N - jc < DG_NC ? N - jc : DG_NC;
    for (int pc = 0; pc < K; pc += DG_KC) {
      int kc = K - pc < DG_KC ? K - pc : DG_KC;
      float beta_block = pc == 0 ? beta : 1.0f;
      const float *bsrc = tb ? B + (size_t)jc * ldb + pc : B + (size_t)pc * ldb + jc;
      pack_b(tb, bsrc, ldb, kc, nc, pb);
      for (int ic = 0; ic < M; ic += DG_MC) {
        int mc = M - ic < DG_MC ? M - ic : DG_MC;
        const float *asrc = ta ? A + (size_t)pc * lda + ic : A + (size_t)ic * lda + pc;
        pack_a(ta, asrc, lda, mc, kc, pa);
        for (int jr = 0; jr < nc; jr += DG_NR) {
          int nr = nc - jr < DG_NR ? nc - jr : DG_NR;
          const float *bp = pb + (size_t)jr * kc;
          for (int ir = 0; ir < mc; ir += DG_MR) {
            int mr = mc - ir < DG_MR ? mc - ir : DG_MR;
            kern->ukernel(kc, pa + (size_t)ir * kc, bp, C + (size_t)(ic + ir) * ldc + jc + jr, ldc, alpha, beta_block, mr, nr);
          }
        }
      }
    }
  }
}

/* ---------------------------------------------------------------- parallel split */

typedef struct {
  dg_pool *pool;
  int ta, tb, M, N, K;
  float alpha, beta;
  const float *A, *B;
  int lda, ldb, ldc;
  float *C;
  int split_columns;
} gemm_job;

static void stripe(int total, int align, int part, int parts, int *begin, int *end) {
  int units = (total + align - 1) / align;
  int b = (int)((long)units * part / parts) * align;
  int e = (int)((long)units * (part + 1) / parts) * align;
  *begin = b < total ? b : total;
  *end = e < total ? e : total;
}

static void gemm_task(void *ctx, int thread, int n_threads) {
  gemm_job *j = ctx;
  float *scratch = dg_pool_scratch(j->pool, thread, DG_GEMM_SCRATCH_FLOATS);
  int b, e;
  if (j->split_columns) {
    stripe(j->N, DG_NR, thread, n_threads, &b, &e);
    if (b >= e) return;
    const float *B = j->tb ? j->B + (size_t)b * j->ldb : j->B + b;
    gemm_serial(scratch, j->ta, j->tb, j->M, e - b, j->K, j->alpha, j->A, j->lda, B, j->ldb, j->beta, j->C + b, j->ldc);
  } else {
    stripe(j->M, DG_MR, thread, n_threads, &b, &e);
    if (b >= e) return;
    const float *A = j->ta ? j->A + b : j->A + (size_t)b * j->lda;
    gemm_serial(scratch, j->ta, j->tb, e - b, j->N, j->K, j->alpha, A, j->lda, j->B, j->ldb, j->beta, j->C + (size_t)b * j->ldc, j->ldc);
  }
}

/* Below this many multiply-adds a parallel region costs more than it saves. */
#define PARALLEL_MIN_WORK 60000.0

void dg_gemm(dg_pool *pool, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float beta,
             float *C, int ldc) {
  int threads = dg_pool_size(pool);
  double work = (double)M * N * (K > 0 ? K : 1);
  if (threads == 1 || work < PARALLEL_MIN_WORK || (M < 2 * DG_MR && N < 2 * DG_NR)) {
    gemm_serial(dg_pool_scratch(pool, 0, DG_GEMM_SCRATCH_FLOATS), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  gemm_job job = {pool, ta, tb, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C, 0};
  /* Split the longer side, in units of the micro-tile, so each thread packs only its share of it. */
  job.split_columns = (double)N / DG_NR >= (double)M / DG_MR;
  dg_pool_run(pool, gemm_task, &job);
}
