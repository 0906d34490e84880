/*
 * Blocked single-precision GEMM in the BLIS style: op(B) is packed into KC x NR panels (or packed once
 * up front for a reused weight), op(A) is read in place with a row and a column stride (so A^T costs
 * nothing), and an MR x NR micro-kernel (AVX2/FMA when the CPU has it, plain C otherwise) does the
 * arithmetic. The three shapes training needs (X W, dY W^T, X^T dY) share one kernel. Threads take
 * column stripes (each packing only its part of B) or row stripes of C.
 */
#include "dg_internal.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- portable kernels */

static void ukernel_portable(int kc, const float *a, long rs, long cs, const float *b, float *c, int ldc, float alpha, float beta, int mr,
                             int nr) {
  float acc[DG_MR][DG_NR];
  memset(acc, 0, sizeof acc);
  for (int k = 0; k < kc; k++) {
    for (int i = 0; i < DG_MR; i++) {
      float ai = a[i * rs + k * cs];
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

static void lstm_cell_portable(int rows, int H, float *gates, const float *base, const float *c_prev, float *c, float *tanh_c, float *h,
                               int ldh) {
  for (int r = 0; r < rows; r++) {
    float *g = gates + (size_t)r * 4 * H;
    const float *bs = base ? base + (size_t)r * 4 * H : NULL;
    for (int u = 0; u < H; u++) {
      float pi = g[u], pf = g[H + u], pg = g[2 * H + u], po = g[3 * H + u];
      if (bs) pi += bs[u], pf += bs[H + u], pg += bs[2 * H + u], po += bs[3 * H + u];
      float i = sigmoid_scalar(pi), f = sigmoid_scalar(pf), gg = tanhf(pg), o = sigmoid_scalar(po);
      float cp = c_prev ? c_prev[(size_t)r * H + u] : 0.0f;
      float cn = f * cp + i * gg;
      float tc = tanhf(cn);
      g[u] = i;
      g[H + u] = f;
      g[2 * H + u] = gg;
      g[3 * H + u] = o;
      c[(size_t)r * H + u] = cn;
      tanh_c[(size_t)r * H + u] = tc;
      h[(size_t)r * ldh + u] = o * tc;
    }
  }
}

static void lstm_cell_backward_portable(int rows, int H, float *gates, const float *tanh_c, const float *c_prev, const float *dh, const float *dh_rec,
                                        float *dc, int last) {
  dg_lstm_cell_backward_body(rows, H, gates, tanh_c, c_prev, dh, dh_rec, dc, last);
}

static const dg_kernels portable = {"portable", ukernel_portable, vexp_portable, lstm_cell_portable, lstm_cell_backward_portable};

const dg_kernels *dg_kernels_portable(void) { return &portable; }

static _Atomic(const dg_kernels *) chosen = NULL;

const dg_kernels *dg_kernels_get(void) {
  const dg_kernels *k = atomic_load(&chosen);
  if (k) return k;
  /* The widest the CPU runs; DG_KERNELS=avx2|portable picks a narrower one (comparisons, old CPUs). */
  const char *want = getenv("DG_KERNELS");
  if (want && strcmp(want, "portable") == 0)
    k = &portable;
  else if (want && strcmp(want, "avx2") == 0)
    k = dg_kernels_avx2();
  else
    k = dg_kernels_avx512() ? dg_kernels_avx512() : dg_kernels_avx2();
  if (!k) k = &portable;
  atomic_store(&chosen, k);
  return k;
}

void dg_kernels_force(const dg_kernels *k) { atomic_store(&chosen, k); }

const char *dg_kernel_name(void) { return dg_kernels_get()->name; }

/* ---------------------------------------------------------------- packing B */

/* op(B)[pc + k, j0 + j] for k < kc, j < nc into NR-column panels (panel q at dst + q * NR * kc), zero
 * padded to a whole panel. */
static void pack_b_block(int trans, const float *B, int ldb, int pc, int kc, int j0, int nc, float *dst) {
  for (int q = 0; q < nc; q += DG_NR, dst += (size_t)DG_NR * kc) {
    int nr = nc - q < DG_NR ? nc - q : DG_NR;
    if (!trans) {
      const float *src = B + (size_t)pc * ldb + j0 + q;
      if (nr == DG_NR) {
        for (int k = 0; k < kc; k++) memcpy(dst + k * DG_NR, src + (size_t)k * ldb, sizeof(float) * DG_NR);
      } else {
        for (int k = 0; k < kc; k++) {
          int j = 0;
          for (; j < nr; j++) dst[k * DG_NR + j] = src[(size_t)k * ldb + j];
          for (; j < DG_NR; j++) dst[k * DG_NR + j] = 0.0f;
        }
      }
    } else {
      for (int j = 0; j < DG_NR; j++) {
        if (j < nr) {
          const float *src = B + (size_t)(j0 + q + j) * ldb + pc;
          for (int k = 0; k < kc; k++) dst[k * DG_NR + j] = src[k];
        } else {
          for (int k = 0; k < kc; k++) dst[k * DG_NR + j] = 0.0f;
        }
      }
    }
  }
}

static int round_up(int x, int m) { return (x + m - 1) / m * m; }

/* Whole-matrix layout: K in blocks of KC; block at pc starts at pc * round_up(N, NR). */
size_t dg_packed_b_floats(int K, int N) { return (size_t)K * round_up(N, DG_NR); }

void dg_pack_b(int trans_b, int K, int N, const float *B, int ldb, float *packed) {
  size_t npad = round_up(N, DG_NR);
  for (int pc = 0; pc < K; pc += DG_KC) {
    int kc = K - pc < DG_KC ? K - pc : DG_KC;
    pack_b_block(trans_b, B, ldb, pc, kc, 0, N, packed + (size_t)pc * npad);
  }
}

/* ---------------------------------------------------------------- serial GEMM on a block of C */

static void scale_c(int rows, int cols, float beta, float *C, int ldc) {
  for (int i = 0; i < rows; i++) {
    float *ci = C + (size_t)i * ldc;
    if (beta == 0.0f)
      memset(ci, 0, sizeof(float) * cols);
    else
      for (int j = 0; j < cols; j++) ci[j] *= beta;
  }
}

/* Column panels per kernel call: np adjacent panels where the kernel set has a wide kernel (B's np
 * panels, at most ~32 KB, stay in L1 while A's rows stream past them), else 1. */
static int panels_per_call(const dg_kernels *kern, int kc, int panels_left) {
  if (!kern->ukernel_wide || panels_left < 2) return 1;
  int np = kc * (int)sizeof(float) * DG_NR * 3 <= 36 * 1024 ? 3 : 2;
  if (np > kern->max_panels) np = kern->max_panels;
  return np > panels_left ? panels_left : np;
}

/* One kernel call over np panels (1: the narrow kernel). */
static inline void call_kernel(const dg_kernels *kern, int np, int kc, const float *a, long rs, long cs, const float *b, float *c, int ldc,
                               float alpha, float beta, int mr, int nr) {
  if (np == 1)
    kern->ukernel(kc, a, rs, cs, b, c, ldc, alpha, beta, mr, nr);
  else
    kern->ukernel_wide(np, kc, a, rs, cs, b, (long)DG_NR * kc, c, ldc, alpha, beta, mr, nr);
}

/* n (<= MR) rows of op(A) over kc depth steps as one MR-row micro-panel, zero-padded below n. */
static void pack_rows(float *dst, const float *a, long rs, long cs, int n, int kc) {
  for (int k = 0; k < kc; k++)
    for (int i = 0; i < DG_MR; i++) dst[k * DG_MR + i] = i < n ? a[i * rs + k * cs] : 0.0f;
}

/* Rows [i0, i1) x columns [j0, j0 + nc) of C for one depth block [pc, pc + kc), with op(B)'s panels for
 * those columns at bp. A is read in place: element (i, k) of op(A) is A[i * rs + k * cs], except that
 * with apack (scratch for (MCB + MR) x KC floats; given for a transposed A, whose in-place reads would
 * touch a new cache line at every depth step) each MCB-row block is first copied into MR-row
 * micro-panels, read contiguously by every column panel after that. Same products in the same order. */
static void macro_kernel(const dg_kernels *kern, const float *A, long rs, long cs, int i0, int i1, int pc, int kc, const float *bp, int j0,
                         int nc, float alpha, float beta, float *C, int ldc, float *apack) {
  float edge[DG_MR * DG_KC];
  for (int ic = i0; ic < i1; ic += DG_MCB) {
    int ie = i1 - ic < DG_MCB ? i1 : ic + DG_MCB;
    if (apack) {
      int rows = ie - ic, panels = (rows + DG_MR - 1) / DG_MR;
      for (int q = 0; q < panels; q++) {
        float *dst = apack + (size_t)q * DG_MR * kc;
        int n = rows - q * DG_MR < DG_MR ? rows - q * DG_MR : DG_MR;
        const float *a = A + (ic + q * DG_MR) * rs + pc * cs;
        if (n == DG_MR && rs == 1) {
          for (int k = 0; k < kc; k++) memcpy(dst + k * DG_MR, a + k * cs, sizeof(float) * DG_MR);
        } else {
          pack_rows(dst, a, rs, cs, n, kc);
        }
      }
      for (int jr = 0; jr < nc;) {
        int np = panels_per_call(kern, kc, (nc - jr + DG_NR - 1) / DG_NR);
        int nr = nc - jr < DG_NR * np ? nc - jr : DG_NR * np;
        const float *b = bp + (size_t)jr * kc;
        for (int q = 0; q < panels; q++) {
          int mr = rows - q * DG_MR < DG_MR ? rows - q * DG_MR : DG_MR;
          call_kernel(kern, np, kc, apack + (size_t)q * DG_MR * kc, 1, DG_MR, b, C + (size_t)(ic + q * DG_MR) * ldc + j0 + jr, ldc, alpha, beta, mr, nr);
        }
        jr += DG_NR * np;
      }
      continue;
    }
    /* A ragged last panel (fewer than 6 rows) is copied once, zero-padded, so the kernel reads 6 rows. */
    int full_end = ic + (ie - ic) / DG_MR * DG_MR, edge_rows = ie - full_end;
    if (edge_rows) pack_rows(edge, A + full_end * rs + pc * cs, rs, cs, edge_rows, kc);
    for (int jr = 0; jr < nc;) {
      int np = panels_per_call(kern, kc, (nc - jr + DG_NR - 1) / DG_NR);
      int nr = nc - jr < DG_NR * np ? nc - jr : DG_NR * np;
      const float *b = bp + (size_t)jr * kc;
      for (int ir = ic; ir < full_end; ir += DG_MR)
        call_kernel(kern, np, kc, A + ir * rs + pc * cs, rs, cs, b, C + (size_t)ir * ldc + j0 + jr, ldc, alpha, beta, DG_MR, nr);
      if (edge_rows) call_kernel(kern, np, kc, edge, 1, DG_MR, b, C + (size_t)full_end * ldc + j0 + jr, ldc, alpha, beta, edge_rows, nr);
      jr += DG_NR * np;
    }
  }
}

typedef struct {
  dg_pool *pool;
  int ta, tb, M, N, K;
  float alpha, beta;
  const float *A, *B, *packed;
  int lda, ldb, ldc;
  float *C;
  int split_columns, chunks;
} gemm_job;

/* C rows [i0, i1), columns [j0, j1) (j0 a multiple of NR). */
static void gemm_block(const gemm_job *j, float *scratch, int i0, int i1, int j0, int j1) {
  if (i1 <= i0 || j1 <= j0) return;
  if (j->K <= 0 || j->alpha == 0.0f) {
    scale_c(i1 - i0, j1 - j0, j->beta, j->C + (size_t)i0 * j->ldc + j0, j->ldc);
    return;
  }
  const dg_kernels *kern = dg_kernels_get();
  long rs = j->ta ? 1 : j->lda, cs = j->ta ? j->lda : 1;
  size_t npad = round_up(j->N, DG_NR);
  for (int jc = j0; jc < j1; jc += DG_NC) {
    int nc = j1 - jc < DG_NC ? j1 - jc : DG_NC;
    for (int pc = 0; pc < j->K; pc += DG_KC) {
      int kc = j->K - pc < DG_KC ? j->K - pc : DG_KC;
      const float *bp;
      if (j->packed) {
        bp = j->packed + (size_t)pc * npad + (size_t)jc * kc;
      } else if (!scratch) { /* no packing memory (only possible without a pool): plain loops */
        for (int i = i0; i < i1; i++)
          for (int c = jc; c < jc + nc; c++) {
            float acc = 0.0f;
            for (int k = pc; k < pc + kc; k++)
              acc += j->A[i * rs + k * cs] * (j->tb ? j->B[(size_t)c * j->ldb + k] : j->B[(size_t)k * j->ldb + c]);
            float *out = j->C + (size_t)i * j->ldc + c;
            float beta = pc == 0 ? j->beta : 1.0f;
            *out = j->alpha * acc + (beta == 0.0f ? 0.0f : beta * *out);
          }
        continue;
      } else {
        pack_b_block(j->tb, j->B, j->ldb, pc, kc, jc, nc, scratch);
        bp = scratch;
      }
      macro_kernel(kern, j->A, rs, cs, i0, i1, pc, kc, bp, jc, nc, j->alpha, pc == 0 ? j->beta : 1.0f, j->C, j->ldc,
                   j->ta && scratch ? scratch + DG_GEMM_B_SCRATCH_FLOATS : NULL);
    }
  }
}

/* ---------------------------------------------------------------- parallel split */

static void gemm_task(void *ctx, int chunk, int n_chunks, int thread) {
  gemm_job *j = ctx;
  float *scratch = j->packed ? NULL : dg_pool_scratch(j->pool, thread, DG_GEMM_SCRATCH_FLOATS);
  int b, e;
  if (j->split_columns) {
    dg_stripe(j->N, DG_NR, chunk, n_chunks, &b, &e);
    gemm_block(j, scratch, 0, j->M, b, e);
  } else {
    dg_stripe(j->M, DG_MR, chunk, n_chunks, &b, &e);
    gemm_block(j, scratch, b, e, 0, j->N);
  }
}

/* Below this many multiply-adds a parallel region costs more than it saves. */
#define PARALLEL_MIN_WORK 100000.0

static void run_gemm(dg_pool *pool, gemm_job *job) {
  int threads = dg_pool_size(pool);
  double work = (double)job->M * job->N * (job->K > 0 ? job->K : 1);
  int col_units = (job->N + DG_NR - 1) / DG_NR, row_units = (job->M + DG_MR - 1) / DG_MR;
  if (threads == 1 || work < PARALLEL_MIN_WORK || (col_units < 2 && row_units < 2)) {
    job->split_columns = 1;
    dg_pool_run(pool, gemm_task, job, 1);
    return;
  }
  /* Column stripes make every chunk read all of A (M x K) and pack only its part of B; row stripes make
   * every chunk pack all of B (K x N) and read only its rows of A. So columns when there are enough of
   * them and A is the smaller side (M <= N), e.g. dK = X^T dG (105 x 400), else rows, e.g. the critic's
   * dW_0 = X^T delta (1666 x 200), whose transposed A each column chunk would also pack whole. */
  job->split_columns = col_units >= 2 * threads && (job->M <= job->N || row_units < 2 * threads);
  int units = job->split_columns ? col_units : row_units;
  int chunks = 2 * threads < units ? 2 * threads : units;
  dg_pool_run(pool, gemm_task, job, chunks);
}

void dg_gemm(dg_pool *pool, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float beta,
             float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
  gemm_job job = {pool, ta, tb, M, N, K, alpha, beta, A, B, NULL, lda, ldb, ldc, C, 0, 0};
  run_gemm(pool, &job);
}

void dg_gemm_packed(dg_pool *pool, int ta, int M, int N, int K, float alpha, const float *A, int lda, const float *packed_b, float beta,
                    float *C, int ldc) {
  if (M <= 0 || N <= 0) return;
  gemm_job job = {pool, ta, 0, M, N, K, alpha, beta, A, NULL, packed_b, lda, 0, ldc, C, 0, 0};
  run_gemm(pool, &job);
}

void dg_gemm_rows_packed(int ta, int i0, int i1, int N, int K, float alpha, const float *A, int lda, const float *packed_b, float beta,
                         float *C, int ldc) {
  gemm_job job = {NULL, ta, 0, i1, N, K, alpha, beta, A, NULL, packed_b, lda, 0, ldc, C, 0, 0};
  gemm_block(&job, NULL, i0, i1, 0, N);
}
