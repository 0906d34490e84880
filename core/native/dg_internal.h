/*
 * Internals shared by the CPU core, its tests and its benchmark: the RNG, the thread pool, the GEMM,
 * the vector kernels and each layer's forward/backward. Not part of the public API (dg.h).
 */
#ifndef DG_INTERNAL_H
#define DG_INTERNAL_H

#include "dg.h"

#include <stdint.h>
#include <stddef.h>

/* ---------------------------------------------------------------- errors */

int dg_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---------------------------------------------------------------- DP-SGD on Poisson-sampled batches */

/* The batch size a step normalizes by and the generator step generates: config.dp_expected_batch with
 * Poisson-sampled batches (so nothing the model keeps depends on how many series were sampled), else
 * the real batch's B. */
static inline int dg_step_batch(const dg_config *c, int B) { return c->dp_expected_batch > 0 ? c->dp_expected_batch : B; }

/* ---------------------------------------------------------------- optional phase profile
 * Built only with -DDG_PROFILE (make prof -> out/bench_dg_prof); otherwise the macros are empty and
 * cost nothing. Wall time per phase of an iteration, as the calling thread sees it, plus per-thread
 * CPU time inside the LSTM passes and the pool's fork-join counts. */
enum {
  DG_PROF_NOISE, DG_PROF_GEN_MLP, DG_PROF_LSTM_FWD, DG_PROF_HEADS_FWD, DG_PROF_ROWS, DG_PROF_CRITIC_FWD, DG_PROF_CRITIC_DELTAS,
  DG_PROF_CRITIC_INPUT_GRAD, DG_PROF_CRITIC_U, DG_PROF_CRITIC_DW, DG_PROF_ADAM, DG_PROF_GEN_CRITIC, DG_PROF_HEADS_BWD, DG_PROF_LSTM_BWD,
  DG_PROF_LSTM_DK, DG_PROF_GEN_TAIL, DG_PROF_OTHER,
  /* per-thread CPU time summed over threads (not wall) */
  DG_PROF_LSTM_FWD_GEMM, DG_PROF_LSTM_FWD_CELL, DG_PROF_LSTM_BWD_CELL, DG_PROF_LSTM_BWD_GEMM,
  /* pool: parallel regions, caller's wait after its own chunks (ms) */
  DG_PROF_POOL_REGIONS, DG_PROF_POOL_WAIT,
  DG_PROF_COUNT
};
#ifdef DG_PROFILE
double dg_prof_now(void);
void dg_prof_add(int phase, double ms);
void dg_prof_add_t(int thread, int phase, double ms); /* from inside a pool task */
void dg_prof_report(int iterations);
void dg_prof_reset(void);
#define DG_PROF_T0() double dg_prof_t0_ = dg_prof_now()
#define DG_PROF_LAP(phase) (dg_prof_add((phase), dg_prof_now() - dg_prof_t0_), dg_prof_t0_ = dg_prof_now())
#define DG_PROF_LAP_T(thread, phase) (dg_prof_add_t((thread), (phase), dg_prof_now() - dg_prof_t0_), dg_prof_t0_ = dg_prof_now())
#define DG_PROF_SKIP() (dg_prof_t0_ = dg_prof_now())
#else
#define DG_PROF_SKIP() ((void)0)
#define DG_PROF_T0() ((void)0)
#define DG_PROF_LAP(phase) ((void)0)
#define DG_PROF_LAP_T(thread, phase) ((void)0)
#endif

/* ---------------------------------------------------------------- Philox RNG (core/util/rng.ts) */

/* DG_STREAM_DP_PAIRING: under DP-SGD on Poisson-sampled batches, each real example's fake partner and
 * interpolation weights, keyed by (critic step, training-set row id): see dg_cpu.c, pair_examples. */
enum { DG_STREAM_INIT = 1, DG_STREAM_NOISE = 2, DG_STREAM_BATCHES = 3, DG_STREAM_DP_PAIRING = 4 };

/* Where example (critic step k, training-set row id r)'s pairing draws start: draws p (fake partner),
 * p + 1 (main interpolation weight), p + 2 (aux), p + 3 unused; one Philox block each, disjoint for
 * every k and every r < 2^31. */
#ifdef __CUDACC__
#define DG_HOST_DEVICE __host__ __device__
#else
#define DG_HOST_DEVICE
#endif
DG_HOST_DEVICE static inline uint64_t dg_pairing_position(int64_t k, int32_t r) { return ((uint64_t)k << 33) + 4 * (uint64_t)(uint32_t)r; }
/* The fake partner in [0, E) from a 32-bit draw u: floor(u E / 2^32), exact in integers. */
DG_HOST_DEVICE static inline int dg_pairing_partner(uint32_t u, int E) { return (int)(((uint64_t)u * (uint64_t)E) >> 32); }

void dg_philox4x32(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1, uint32_t out[4]);
/* Draw number `position` of Rng(seed, stream). */
uint32_t dg_rng_u32_at(uint32_t seed, uint32_t stream, uint64_t position);
/* Rng.uniform() / Rng.normal() whose first draw is `position` (normal takes two draws). */
double dg_rng_uniform_at(uint32_t seed, uint32_t stream, uint64_t position);
double dg_rng_normal_at(uint32_t seed, uint32_t stream, uint64_t position);
/* out[i] = the i-th of n consecutive normals (or uniforms) starting at draw `position`. */
void dg_rng_fill_normal(uint32_t seed, uint32_t stream, uint64_t position, float *out, size_t n);
void dg_rng_fill_uniform(uint32_t seed, uint32_t stream, uint64_t position, float *out, size_t n);

/* ---------------------------------------------------------------- thread pool */

typedef struct dg_pool dg_pool;
/* fn(ctx, chunk, n_chunks, thread) runs once per chunk, on whichever thread takes it (0 = the caller);
 * `thread` only selects per-thread scratch. */
typedef void (*dg_task_fn)(void *ctx, int chunk, int n_chunks, int thread);

dg_pool *dg_pool_create(int n_threads);
/* The thread count a config's threads = 0 means: DG_NUM_THREADS, else every online CPU (1..64). */
int dg_default_threads(void);
void dg_pool_destroy(dg_pool *pool);
int dg_pool_size(const dg_pool *pool);
/* Chunk `part` of `parts` of [0, total), cut at multiples of `align` (1: an even split), as [begin, end). */
static inline void dg_stripe(int total, int align, int part, int parts, int *begin, int *end) {
  int units = (total + align - 1) / align;
  int b = (int)((long)units * part / parts) * align;
  int e = (int)((long)units * (part + 1) / parts) * align;
  *begin = b < total ? b : total;
  *end = e < total ? e : total;
}
void dg_pool_run(dg_pool *pool, dg_task_fn fn, void *ctx, int n_chunks);
/* Per-thread scratch memory for the GEMM's packed panels (grown on demand, owned by the pool). */
float *dg_pool_scratch(dg_pool *pool, int thread, size_t floats);

/* ---------------------------------------------------------------- GEMM and vector kernels */

/* Row-major C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C. op(A) = A^T when trans_a (A stored
 * [K, M]), likewise B. beta = 0 never reads C. Splits the work over the pool (NULL: serial). */
void dg_gemm(dg_pool *pool, int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

/* op(B) packed once into the kernel's panel layout, for a weight reused by many products (the LSTM's
 * recurrent kernel at every step). */
size_t dg_packed_b_floats(int K, int N);
void dg_pack_b(int trans_b, int K, int N, const float *B, int ldb, float *packed);
void dg_gemm_packed(dg_pool *pool, int trans_a, int M, int N, int K, float alpha, const float *A, int lda, const float *packed_b,
                    float beta, float *C, int ldc);
/* Serial: rows [i0, i1) of C (an M x N product with pre-packed B), for callers that split work themselves. */
void dg_gemm_rows_packed(int trans_a, int i0, int i1, int N, int K, float alpha, const float *A, int lda, const float *packed_b, float beta,
                         float *C, int ldc);

typedef struct {
  const char *name;
  /* MR x NR micro-kernel: A element (i, k) at a[i * rs + k * cs] (6 valid rows), B packed NR-wide;
   * C[mr, nr] = alpha * acc + beta * C. */
  void (*ukernel)(int kc, const float *a, long rs, long cs, const float *b, float *c, int ldc, float alpha, float beta, int mr, int nr);
  /* x[i] = exp(x[i]) */
  void (*vexp)(float *x, size_t n);
  /* One LSTM step's cell. gates [rows, 4H] holds x K (+ base [rows, 4H] when not NULL) for blocks
   * i|f|g|o; they are activated in place, and c, tanh(c) [rows, H] and h (row stride ldh) written.
   * c_prev NULL means zeros. */
  void (*lstm_cell)(int rows, int H, float *gates, const float *base, const float *c_prev, float *c, float *tanh_c, float *h, int ldh);
  /* The cell's backward for rows of one step: gates (activated) become d(pre-activation gates); dh is
   * the gradient from outside the recurrence, dh_rec/dc the carries from the later step (ignored when
   * last); dc receives the carry to the earlier step. c_prev NULL means zeros. */
  void (*lstm_cell_backward)(int rows, int H, float *gates, const float *tanh_c, const float *c_prev, const float *dh, const float *dh_rec, float *dc,
                             int last);
  /* Optional (NULL: use ukernel per panel): np (2..max_panels) adjacent NR-wide panels at once, panel q
   * at b + q * bstride, nr <= np * NR valid columns; same arithmetic per element as ukernel up to the
   * order of the depth sum. */
  void (*ukernel_wide)(int np, int kc, const float *a, long rs, long cs, const float *b, long bstride, float *c, int ldc, float alpha, float beta,
                       int mr, int nr);
  int max_panels;
} dg_kernels;

/* The body of every lstm_cell_backward: plain C that each kernel set compiles for its own vector ISA. */
static inline void dg_lstm_cell_backward_body(int rows, int H, float *gates, const float *tanh_c, const float *c_prev, const float *dh,
                                              const float *dh_rec, float *dc, int last) {
  for (int r = 0; r < rows; r++) {
    float *gi = gates + (size_t)r * 4 * H, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
    const float *tcr = tanh_c + (size_t)r * H, *dhr = dh + (size_t)r * H, *rec = dh_rec + (size_t)r * H;
    const float *cpr = c_prev ? c_prev + (size_t)r * H : NULL;
    float *dcr = dc + (size_t)r * H;
    for (int u = 0; u < H; u++) {
      float i = gi[u], f = gf[u], gv = gg[u], o = go[u], t = tcr[u];
      float dht = dhr[u] + (last ? 0.0f : rec[u]);
      float dct = (last ? 0.0f : dcr[u]) + dht * o * (1.0f - t * t);
      float cp = cpr ? cpr[u] : 0.0f;
      gi[u] = dct * gv * i * (1.0f - i);
      gf[u] = dct * cp * f * (1.0f - f);
      gg[u] = dct * i * (1.0f - gv * gv);
      go[u] = dht * t * o * (1.0f - o);
      dcr[u] = dct * f;
    }
  }
}

#define DG_MR 6
#define DG_NR 16
#define DG_KC 256
#define DG_NC 1024
#define DG_MCB 240 /* rows of A per block, kept in L2 while B's panels stream */
#define DG_GEMM_B_SCRATCH_FLOATS ((size_t)DG_KC * DG_NC)
/* B's panels, then (transposed A only) one MCB x KC block of A in MR-row micro-panels */
#define DG_GEMM_SCRATCH_FLOATS (DG_GEMM_B_SCRATCH_FLOATS + (size_t)(DG_MCB + DG_MR) * DG_KC)

const dg_kernels *dg_kernels_get(void);
const dg_kernels *dg_kernels_portable(void);
const dg_kernels *dg_kernels_avx2(void);   /* NULL when not compiled in or the CPU lacks AVX2/FMA */
const dg_kernels *dg_kernels_avx512(void); /* NULL unless the CPU also has AVX-512F */
/* Force a kernel set (tests compare the two); NULL restores the automatic choice. */
void dg_kernels_force(const dg_kernels *k);

/* ---------------------------------------------------------------- layers (forward and backward) */

/* out[rows, out] = in[rows, in] W[in, out] + b */
void dg_dense_forward(dg_pool *pool, float *out, const float *in, const float *W, const float *b, int rows, int in_dim, int out_dim);
/* dW += in^T dout, db += colsum(dout), din = dout W^T (din may be NULL) */
void dg_dense_backward(dg_pool *pool, float *din, float *dW, float *db, const float *dout, const float *in, const float *W,
                       int rows, int in_dim, int out_dim);

void dg_relu_forward(float *x, size_t n);
/* d[i] *= (act[i] > 0), act = relu output */
void dg_relu_backward(float *d, const float *act, size_t n);

/* Training-mode batch norm, in place: x [rows, C] becomes xhat; y = gamma*xhat + beta into out.
 * mean/var (biased) and invstd [C] are kept for backward and the running statistics. */
void dg_batchnorm_forward(float *out, float *x_to_xhat, float *mean, float *var, float *invstd, const float *gamma,
                          const float *beta, int rows, int C);
void dg_batchnorm_inference(float *out, const float *x, const float *moving_mean, const float *moving_var, const float *gamma,
                            const float *beta, int rows, int C);
/* dx from dy; dgamma += , dbeta += */
void dg_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *xhat, const float *invstd,
                           const float *gamma, int rows, int C);

/* Output heads: per row of width sum(vars.dim) * groups, each variable's slice gets its activation. */
void dg_heads_forward(float *x, int rows, const dg_var *vars, int n_vars, int groups);
/* dx = d act / d logits applied to dy, y = activated output; dx may alias dy. */
void dg_heads_backward(float *dx, const float *dy, const float *y, int rows, const dg_var *vars, int n_vars, int groups);

/* LSTM over `steps` steps of `rows` examples. Step j's input is row block j of xh [steps + 1, rows,
 * nx + H], laid out [x_j, h_{j-1}] so that one product with Kxh [nx + H, 4H] (rows for x, then for h)
 * gives the gates: gates_j = xh_j Kxh + base (base [rows, 4H], may be NULL). The caller fills the x
 * parts; h_j is written into block j + 1 (block 0's h part is zeroed). gates [steps, rows, 4H] returns
 * the activated gates; c, tanh_c [steps, rows, H]. packed: dg_lstm_packed_floats() of scratch. keep = 0
 * (no BPTT to follow): only the h parts of xh are kept; gates, c and tanh_c are scratch, of which
 * step 0's blocks (c: steps 0 and 1) are used. */
size_t dg_lstm_packed_floats(int nx, int H);
void dg_lstm_forward(dg_pool *pool, float *gates, float *xh, const float *base, const float *Kxh, float *packed, float *c, float *tanh_c,
                     int steps, int rows, int nx, int H, int keep);
/* BPTT. dh [steps, rows, H]: the gradient reaching each h_j from outside the recurrence (the heads).
 * On return gates holds d(gates) [steps, rows, 4H]; dKxh += sum_j xh_j^T dgates_j; dgsum [rows, 4H]
 * (may be NULL) = sum_j dgates_j (the gradient of base), summed from the last step to the first.
 * Scratch: dh_rec, dc [rows, H]; packed as above. */
void dg_lstm_backward(dg_pool *pool, float *gates, const float *c, const float *tanh_c, const float *xh, const float *dh, const float *Kxh,
                      float *dKxh, float *dgsum, float *packed, float *dh_rec, float *dc, int steps, int rows, int nx, int H);

/* A ReLU MLP critic's parameters and one pass's activations. */
typedef struct {
  int n_hidden;
  int width[DG_MAX_LAYERS + 2]; /* width[0] = input, width[1..n_hidden] = hidden, width[n_hidden+1] = 1 */
  const float *W[DG_MAX_LAYERS + 1];
  const float *b[DG_MAX_LAYERS + 1];
  float *dW[DG_MAX_LAYERS + 1];
  float *db[DG_MAX_LAYERS + 1];
} dg_critic_net;

typedef struct {
  int max_rows;
  float *act[DG_MAX_LAYERS + 1];   /* act[0] = input X [rows, width0]; act[l] = relu output of layer l */
  float *delta[DG_MAX_LAYERS + 1]; /* delta[l] [rows, width l]: dD/dz_l scaled by the row's coefficient */
  float *out;                      /* D [rows] */
  float *dout;                     /* row coefficients [rows] */
  float *g;                        /* [rows, width0]: input gradients */
  float *tmp;                      /* [rows, max hidden width] */
  float *norm;                     /* [rows] */
  float *ex_norm;                  /* DP only, [rows]: |grad l_b| per example before clipping */
  float *clip;                     /* DP only, [rows]: clip factors min(1, C / |grad l_b|) */
} dg_critic_ws;

/* D for rows of act[0]. */
void dg_critic_forward(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int rows);
/* After forward: delta for coefficients dout[rows]; when want_input_grad, g = dD/dx * dout per row. */
void dg_critic_backward(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int rows, int want_input_grad);
/* The WGAN-GP critic update for act[0] = [real (B rows); fake (B); x_hat (B)], already forwarded:
 * accumulates into dW/db the gradient of mean D(fake) - mean D(real) + lambda * mean (|g_b|-1)^2.
 * Returns through the pointers mean D(real), mean D(fake) and gp. */
void dg_critic_wgan_gp_grads(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int B, float lambda, double *mean_real,
                             double *mean_fake, double *gp);

/* DP-SGD clipping of one critic step: each example's gradient of its own loss term
 * l_b = D(G_b) - D(R_b) + lambda (|g_b| - 1)^2 (the batch loss is mean_b l_b) is clipped to L2 norm
 * <= clip_norm over all the critic's parameters, and dW/db receive sum_b c_b grad l_b / B. */
typedef struct {
  float clip_norm;         /* C (finite, > 0) */
  double mean_norm;        /* out: mean_b |grad l_b| before clipping */
  double clipped_fraction; /* out: share of examples with |grad l_b| > C */
} dg_dp_clip;
/* dg_critic_wgan_gp_grads with clipping (dp NULL: exactly dg_critic_wgan_gp_grads). Needs ws->ex_norm
 * and ws->clip [B]; leaves |grad l_b| in ex_norm and c_b in clip. */
void dg_critic_wgan_gp_grads_dp(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int B, float lambda, dg_dp_clip *dp,
                                double *mean_real, double *mean_fake, double *gp);

/* DP-SGD noise: x[i] += N(0, std^2) from cryptographically secure bits (never the seeded Philox stream;
 * see dg_dp.c). DG_ERR_IO when the OS has no randomness to give. */
int dg_add_secure_gaussian(dg_pool *pool, float *x, size_t n, double std);
/* Box-Muller of `pairs` pairs of 64-bit words into out[2 pairs]: u1 = 2 - (1 + (words[2i] >> 12) 2^-52)
 * in (0, 1], u2 = (words[2i+1] >> 10) 2^-54; out = sqrt(-2 ln u1) (cos, sin)(2 pi u2). */
void dg_box_muller(const uint64_t *words, size_t pairs, double *out);
/* n bytes from the kernel (getrandom(2) on Linux). */
int dg_os_random(void *buf, size_t n);
/* The ChaCha20 block function (64-bit counter and nonce, DJB's layout), for its known-answer test. */
void dg_chacha20_block(const uint32_t key[8], uint64_t nonce, uint64_t counter, uint32_t out[16]);

void dg_adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2, int64_t t);

/* ---------------------------------------------------------------- model internals for tests */

/* Critic-step gradients without the update (grads of the critic and aux networks into dg_grads()).
 * Uses the noise at the current position without advancing it. */
int dg_debug_critic_grads(dg_model *model, const dg_batch *batch, dg_losses *losses);
/* Generator-step gradients without the update or running-statistic change. */
int dg_debug_generator_grads(dg_model *model, int B, dg_losses *losses);
/* The gradient buffer, laid out like the parameters (tensor i's gradient at the same offset). */
float *dg_grads(dg_model *model);
/* After dg_debug_critic_grads: the main critic's input rows [real B; fake B; (overwritten) x_hat B] and
 * the interpolation weights a (aux: a_aux). */
const float *dg_debug_critic_input(const dg_model *model);
/* Tests only: the values the generator's stop-gradient copies of A and M take (NULL: the live ones). */
void dg_debug_freeze_stopgrad(dg_model *model, const float *attributes, const float *additional);
const float *dg_debug_interpolation(const dg_model *model, int aux);
float *dg_params(dg_model *model);
size_t dg_param_floats(const dg_model *model);
size_t dg_param_offset(const dg_model *model, int index);
/* from -> to: every state tensor and the counters (two models of one config). */
int dg_copy_state(dg_model *to, const dg_model *from);

/* ---------------------------------------------------------------- layout for other back ends (CUDA) */

typedef struct {
  int n_hidden;
  int width[DG_MAX_LAYERS + 2]; /* width[0] input ... width[n_hidden + 1] output */
  size_t kernel[DG_MAX_LAYERS + 1], bias[DG_MAX_LAYERS + 1], gamma[DG_MAX_LAYERS], beta[DG_MAX_LAYERS]; /* parameter offsets */
  size_t moving_mean[DG_MAX_LAYERS], moving_var[DG_MAX_LAYERS];                                          /* buffer offsets */
} dg_mlp_layout;

typedef struct {
  dg_dims d;
  int H;
  int has_minmax;
  const dg_config *config; /* the model's own copy (variables included) */
  dg_mlp_layout attr, minmax, critic, aux; /* critic/aux: no batch norm; width[n_hidden + 1] = 1 */
  size_t lstm_kernel, lstm_bias, feat_kernel, feat_bias;
  size_t n_param_floats, n_buffer_floats;
  size_t net_begin[3], net_end[3];
} dg_layout;

void dg_get_layout(const dg_model *model, dg_layout *out);
/* The raw state arrays, laid out by dg_layout's offsets. */
float *dg_adam_m(dg_model *model);
float *dg_adam_v(dg_model *model);
float *dg_buffers(dg_model *model);
uint32_t dg_seed(const dg_model *model);

#endif
