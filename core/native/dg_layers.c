/*
 * The layers, each forward next to its backward: dense, ReLU, batch norm, output heads, the LSTM over
 * a sequence, the ReLU critic (with the gradient penalty's double backward) and Adam. Shapes are
 * row-major [rows, width]; the math is core/model/README.md.
 */
#include "dg_internal.h"

#include <math.h>
#include <string.h>

/* ---------------------------------------------------------------- dense */

void dg_dense_forward(dg_pool *pool, float *out, const float *in, const float *W, const float *b, int rows, int in_dim, int out_dim) {
  dg_gemm(pool, 0, 0, rows, out_dim, in_dim, 1.0f, in, in_dim, W, out_dim, 0.0f, out, out_dim);
  if (b)
    for (int r = 0; r < rows; r++) {
      float *o = out + (size_t)r * out_dim;
      for (int j = 0; j < out_dim; j++) o[j] += b[j];
    }
}

static void column_sums_add(float *acc, const float *x, int rows, int cols) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * cols;
    for (int j = 0; j < cols; j++) acc[j] += xr[j];
  }
}

/* acc += (sum of fake rows [B, 2B)) + (sum of real rows [0, B)), each summed in row order from 0 like
 * the reference's reductions (TF.js differentiates D(R) and D(G) separately and adds the two bias
 * gradients). Not one running sum over all 2B rows: WGAN bias gradients that are zero in exact
 * arithmetic (the output bias; a unit active on every row) then cancel exactly, as in the reference,
 * instead of leaving rounding noise that a first Adam step would turn into a full +-lr step. */
static void column_sums_add_real_fake(float *acc, const float *x, int B, int cols) {
  enum { BLOCK = 256 };
  float real[BLOCK], fake[BLOCK];
  for (int j0 = 0; j0 < cols; j0 += BLOCK) {
    int n = cols - j0 < BLOCK ? cols - j0 : BLOCK;
    for (int j = 0; j < n; j++) real[j] = fake[j] = 0.0f;
    for (int r = 0; r < B; r++) {
      const float *xr = x + (size_t)r * cols + j0, *xf = x + (size_t)(B + r) * cols + j0;
      for (int j = 0; j < n; j++) real[j] += xr[j], fake[j] += xf[j];
    }
    for (int j = 0; j < n; j++) acc[j0 + j] += fake[j] + real[j];
  }
}

void dg_dense_backward(dg_pool *pool, float *din, float *dW, float *db, const float *dout, const float *in, const float *W, int rows,
                       int in_dim, int out_dim) {
  if (dW) dg_gemm(pool, 1, 0, in_dim, out_dim, rows, 1.0f, in, in_dim, dout, out_dim, 1.0f, dW, out_dim);
  if (db) column_sums_add(db, dout, rows, out_dim);
  if (din) dg_gemm(pool, 0, 1, rows, in_dim, out_dim, 1.0f, dout, out_dim, W, out_dim, 0.0f, din, in_dim);
}

/* ---------------------------------------------------------------- ReLU */

void dg_relu_forward(float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void dg_relu_backward(float *d, const float *act, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] = act[i] > 0.0f ? d[i] : 0.0f;
}

/* ---------------------------------------------------------------- batch norm */

#define BN_EPSILON 1e-5

void dg_batchnorm_forward(float *out, float *x, float *mean, float *var, float *invstd, const float *gamma, const float *beta, int rows,
                          int C) {
  for (int c = 0; c < C; c++) {
    double s = 0.0;
    for (int r = 0; r < rows; r++) s += x[(size_t)r * C + c];
    double mu = s / rows;
    double q = 0.0;
    for (int r = 0; r < rows; r++) {
      double d = x[(size_t)r * C + c] - mu;
      q += d * d;
    }
    double v = q / rows;
    mean[c] = (float)mu;
    var[c] = (float)v;
    invstd[c] = (float)(1.0 / sqrt(v + BN_EPSILON));
  }
  for (int r = 0; r < rows; r++) {
    float *xr = x + (size_t)r * C, *o = out + (size_t)r * C;
    for (int c = 0; c < C; c++) {
      float xh = (xr[c] - mean[c]) * invstd[c];
      xr[c] = xh;
      o[c] = gamma[c] * xh + beta[c];
    }
  }
}

void dg_batchnorm_inference(float *out, const float *x, const float *moving_mean, const float *moving_var, const float *gamma,
                            const float *beta, int rows, int C) {
  for (int r = 0; r < rows; r++) {
    const float *xr = x + (size_t)r * C;
    float *o = out + (size_t)r * C;
    for (int c = 0; c < C; c++) o[c] = gamma[c] * (xr[c] - moving_mean[c]) / sqrtf(moving_var[c] + (float)BN_EPSILON) + beta[c];
  }
}

void dg_batchnorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *xhat, const float *invstd,
                           const float *gamma, int rows, int C) {
  for (int c = 0; c < C; c++) {
    double sdy = 0.0, sdyx = 0.0;
    for (int r = 0; r < rows; r++) {
      double d = dy[(size_t)r * C + c];
      sdy += d;
      sdyx += d * xhat[(size_t)r * C + c];
    }
    dbeta[c] += (float)sdy;
    dgamma[c] += (float)sdyx;
    /* dxhat = dy * gamma; dx = invstd/N (N dxhat - sum dxhat - xhat sum(dxhat xhat)) */
    float k = gamma[c] * invstd[c] / rows;
    float m1 = (float)sdy, m2 = (float)sdyx;
    for (int r = 0; r < rows; r++) {
      size_t i = (size_t)r * C + c;
      dx[i] = k * (rows * dy[i] - m1 - xhat[i] * m2);
    }
  }
}

/* ---------------------------------------------------------------- output heads */

/* All three activations go through one vectorised exp over the whole block:
 * softmax: exp(x - max) / sum; sigmoid: 1 / (1 + exp(-x)); tanh: 2 / (1 + exp(-2x)) - 1. */
void dg_heads_forward(float *x, int rows, const dg_var *vars, int n_vars, int groups) {
  int width = 0;
  for (int v = 0; v < n_vars; v++) width += vars[v].dim;
  width *= groups;
  for (int r = 0; r < rows; r++) {
    float *xr = x + (size_t)r * width;
    for (int g = 0; g < groups; g++)
      for (int v = 0; v < n_vars; v++) {
        int d = vars[v].dim;
        if (vars[v].activation == DG_SOFTMAX) {
          float mx = xr[0];
          for (int k = 1; k < d; k++) mx = xr[k] > mx ? xr[k] : mx;
          for (int k = 0; k < d; k++) xr[k] -= mx;
        } else if (vars[v].activation == DG_SIGMOID) {
          for (int k = 0; k < d; k++) xr[k] = -xr[k];
        } else {
          for (int k = 0; k < d; k++) xr[k] = -2.0f * xr[k];
        }
        xr += d;
      }
  }
  dg_kernels_get()->vexp(x, (size_t)rows * width);
  for (int r = 0; r < rows; r++) {
    float *xr = x + (size_t)r * width;
    for (int g = 0; g < groups; g++)
      for (int v = 0; v < n_vars; v++) {
        int d = vars[v].dim;
        if (vars[v].activation == DG_SOFTMAX) {
          float s = 0.0f;
          for (int k = 0; k < d; k++) s += xr[k];
          for (int k = 0; k < d; k++) xr[k] /= s;
        } else if (vars[v].activation == DG_SIGMOID) {
          for (int k = 0; k < d; k++) xr[k] = 1.0f / (1.0f + xr[k]);
        } else {
          for (int k = 0; k < d; k++) xr[k] = 2.0f / (1.0f + xr[k]) - 1.0f;
        }
        xr += d;
      }
  }
}

void dg_heads_backward(float *dx, const float *dy, const float *y, int rows, const dg_var *vars, int n_vars, int groups) {
  int width = 0;
  for (int v = 0; v < n_vars; v++) width += vars[v].dim;
  width *= groups;
  for (int r = 0; r < rows; r++) {
    size_t o = (size_t)r * width;
    for (int g = 0; g < groups; g++)
      for (int v = 0; v < n_vars; v++) {
        int d = vars[v].dim;
        const float *yr = y + o, *dyr = dy + o;
        float *dxr = dx + o;
        if (vars[v].activation == DG_SOFTMAX) {
          float s = 0.0f;
          for (int k = 0; k < d; k++) s += dyr[k] * yr[k];
          for (int k = 0; k < d; k++) dxr[k] = yr[k] * (dyr[k] - s);
        } else if (vars[v].activation == DG_SIGMOID) {
          for (int k = 0; k < d; k++) dxr[k] = dyr[k] * yr[k] * (1.0f - yr[k]);
        } else {
          for (int k = 0; k < d; k++) dxr[k] = dyr[k] * (1.0f - yr[k] * yr[k]);
        }
        o += d;
      }
  }
}

/* ---------------------------------------------------------------- LSTM */

/* Examples are independent through the recurrence, so the batch is split into row chunks that each
 * run the whole sequence on their own: one parallel region per pass instead of one per step (55 steps
 * on WWT), which matters most on a busy machine where any region can wait on a descheduled thread.
 * Each step of a chunk multiplies its rows by the kernel packed once, then updates their cells. */

size_t dg_lstm_packed_floats(int nx, int H) {
  size_t fwd = dg_packed_b_floats(nx + H, 4 * H), bwd = dg_packed_b_floats(4 * H, H);
  return fwd > bwd ? fwd : bwd;
}

typedef struct {
  int steps, rows, nx, H;
  float *gates, *xh, *c, *tc;
  const float *base, *packed, *dh;
  float *dh_rec, *dc, *dgsum;
  int keep; /* forward: keep every step's gates, c and tanh(c) for BPTT (else reuse step 0's, c in two slots) */
} lstm_pass;

static int lstm_chunks(dg_pool *pool, int rows) {
  int units = (rows + DG_MR - 1) / DG_MR, want = 2 * dg_pool_size(pool);
  if (dg_pool_size(pool) == 1 || rows < 4 * DG_MR) return 1;
  return want < units ? want : units;
}

static void lstm_forward_task(void *ctx, int chunk, int n_chunks, int thread) {
  const lstm_pass *p = ctx;
  int r0, r1, H = p->H, ld = p->nx + H;
  dg_stripe(p->rows, DG_MR, chunk, n_chunks, &r0, &r1);
  if (r1 <= r0) return;
  const dg_kernels *k = dg_kernels_get();
  size_t gstep = (size_t)p->rows * 4 * H, hstep = (size_t)p->rows * H, xstep = (size_t)p->rows * ld;
  DG_PROF_T0();
  for (int j = 0; j < p->steps; j++) {
    /* Without BPTT to follow, one step's gates and tanh(c) and two slots of c (this and the previous step)
     * are reused: they stay in cache instead of streaming [steps, rows, 4H] out to memory. */
    float *g = p->gates + (p->keep ? j : 0) * gstep, *c = p->c + (p->keep ? j : j & 1) * hstep;
    float *tc = p->tc + (p->keep ? j : 0) * hstep;
    const float *cprev = j == 0 ? NULL : p->c + (p->keep ? j - 1 : (j - 1) & 1) * hstep;
    const float *x = p->xh + j * xstep;
    dg_gemm_rows_packed(0, r0, r1, 4 * H, ld, 1.0f, x, ld, p->packed, 0.0f, g, 4 * H);
    DG_PROF_LAP_T(thread, DG_PROF_LSTM_FWD_GEMM);
    k->lstm_cell(r1 - r0, H, g + (size_t)r0 * 4 * H, p->base ? p->base + (size_t)r0 * 4 * H : NULL, cprev ? cprev + (size_t)r0 * H : NULL,
                 c + (size_t)r0 * H, tc + (size_t)r0 * H, p->xh + (j + 1) * xstep + (size_t)r0 * ld + p->nx, ld);
    DG_PROF_LAP_T(thread, DG_PROF_LSTM_FWD_CELL);
  }
}

void dg_lstm_forward(dg_pool *pool, float *gates, float *xh, const float *base, const float *Kxh, float *packed, float *c, float *tanh_c,
                     int steps, int rows, int nx, int H, int keep) {
  int ld = nx + H;
  for (int r = 0; r < rows; r++) memset(xh + (size_t)r * ld + nx, 0, sizeof(float) * H);
  for (int r = 0; r < rows; r++) memset(xh + (size_t)steps * rows * ld + (size_t)r * ld, 0, sizeof(float) * nx);
  dg_pack_b(0, ld, 4 * H, Kxh, 4 * H, packed);
  lstm_pass p = {steps, rows, nx, H, gates, xh, c, tanh_c, base, packed, NULL, NULL, NULL, NULL, keep};
  dg_pool_run(pool, lstm_forward_task, &p, lstm_chunks(pool, rows));
}

static void lstm_backward_task(void *ctx, int chunk, int n_chunks, int thread) {
  const lstm_pass *p = ctx;
  int r0, r1, H = p->H;
  dg_stripe(p->rows, DG_MR, chunk, n_chunks, &r0, &r1);
  size_t gstep = (size_t)p->rows * 4 * H, hstep = (size_t)p->rows * H;
  DG_PROF_T0();
  for (int j = p->steps - 1; j >= 0; j--) {
    float *g = p->gates + j * gstep;
    const float *tc = p->tc + j * hstep, *dh = p->dh + j * hstep, *cprev = j > 0 ? p->c + (j - 1) * hstep : NULL;
    if (r1 > r0)
      dg_kernels_get()->lstm_cell_backward(r1 - r0, H, g + (size_t)r0 * 4 * H, tc + (size_t)r0 * H, cprev ? cprev + (size_t)r0 * H : NULL,
                                           dh + (size_t)r0 * H, p->dh_rec + (size_t)r0 * H, p->dc + (size_t)r0 * H, j == p->steps - 1);
    /* The step sum of d(gates) while this step's rows are still in cache (a separate pass would read
     * all steps' gates back from memory). */
    if (p->dgsum && r1 > r0) {
      float *sum = p->dgsum + (size_t)r0 * 4 * H;
      const float *src = g + (size_t)r0 * 4 * H;
      size_t n = (size_t)(r1 - r0) * 4 * H;
      if (j == p->steps - 1)
        memcpy(sum, src, sizeof(float) * n);
      else
        for (size_t i = 0; i < n; i++) sum[i] += src[i];
    }
    DG_PROF_LAP_T(thread, DG_PROF_LSTM_BWD_CELL);
    /* d h_{j-1} = dgates_j Kh^T for this chunk's rows: all the earlier step needs from this one. */
    if (j > 0 && r1 > r0) dg_gemm_rows_packed(0, r0, r1, H, 4 * H, 1.0f, g, 4 * H, p->packed, 0.0f, p->dh_rec, H);
    DG_PROF_LAP_T(thread, DG_PROF_LSTM_BWD_GEMM);
  }
}

void dg_lstm_backward(dg_pool *pool, float *gates, const float *c, const float *tanh_c, const float *xh, const float *dh, const float *Kxh,
                      float *dKxh, float *dgsum, float *packed, float *dh_rec, float *dc, int steps, int rows, int nx, int H) {
  int ld = nx + H;
  DG_PROF_T0();
  dg_pack_b(1, 4 * H, H, Kxh + (size_t)nx * 4 * H, 4 * H, packed);
  lstm_pass p = {steps, rows, nx, H, gates, (float *)xh, (float *)c, (float *)tanh_c, NULL, packed, dh, dh_rec, dc, dgsum, 1};
  dg_pool_run(pool, lstm_backward_task, &p, lstm_chunks(pool, rows));
  DG_PROF_LAP(DG_PROF_LSTM_BWD);
  /* dKxh += sum_j xh_j^T dgates_j: one product over all steps (block 0's h part is zero). */
  dg_gemm(pool, 1, 0, ld, 4 * H, steps * rows, 1.0f, xh, ld, gates, 4 * H, 1.0f, dKxh, 4 * H);
  DG_PROF_LAP(DG_PROF_LSTM_DK);
}

/* ---------------------------------------------------------------- critic */

void dg_critic_forward(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int rows) {
  int L = net->n_hidden;
  for (int l = 0; l < L; l++) {
    dg_dense_forward(pool, ws->act[l + 1], ws->act[l], net->W[l], net->b[l], rows, net->width[l], net->width[l + 1]);
    dg_relu_forward(ws->act[l + 1], (size_t)rows * net->width[l + 1]);
  }
  int w = net->width[L];
  const float *wl = net->W[L];
  for (int r = 0; r < rows; r++) {
    const float *x = ws->act[L] + (size_t)r * w;
    float s = 0.0f;
    for (int k = 0; k < w; k++) s += x[k] * wl[k];
    ws->out[r] = s + net->b[L][0];
  }
}

/* delta[l] for l = L..1 (delta[L] = dout * w_out masked); g = delta[1] W0^T when asked. */
static void critic_deltas(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int rows) {
  int L = net->n_hidden;
  if (L == 0) return;
  int w = net->width[L];
  const float *wl = net->W[L];
  for (int r = 0; r < rows; r++) {
    float *d = ws->delta[L] + (size_t)r * w;
    const float *a = ws->act[L] + (size_t)r * w;
    for (int k = 0; k < w; k++) d[k] = a[k] > 0.0f ? ws->dout[r] * wl[k] : 0.0f;
  }
  for (int l = L - 1; l >= 1; l--) {
    dg_gemm(pool, 0, 1, rows, net->width[l], net->width[l + 1], 1.0f, ws->delta[l + 1], net->width[l + 1], net->W[l], net->width[l + 1], 0.0f,
            ws->delta[l], net->width[l]);
    dg_relu_backward(ws->delta[l], ws->act[l], (size_t)rows * net->width[l]);
  }
}

/* g[rows, width0] = input gradient for the rows of delta[1] starting at `first`. */
static void critic_input_grad(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int first, int rows) {
  int L = net->n_hidden, w0 = net->width[0];
  if (L == 0) {
    for (int r = 0; r < rows; r++)
      for (int k = 0; k < w0; k++) ws->g[(size_t)r * w0 + k] = ws->dout[first + r] * net->W[0][k];
    return;
  }
  dg_gemm(pool, 0, 1, rows, w0, net->width[1], 1.0f, ws->delta[1] + (size_t)first * net->width[1], net->width[1], net->W[0], net->width[1], 0.0f,
          ws->g, w0);
}

void dg_critic_backward(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int rows, int want_input_grad) {
  critic_deltas(pool, net, ws, rows);
  if (want_input_grad) critic_input_grad(pool, net, ws, 0, rows);
}

/* ---------------------------------------------------------------- DP-SGD per-example clipping */

/* Example b's share of the batch gradient, (1/B) grad l_b, is a sum of outer products per dense layer:
 * its real row h_R^T delta_R, its fake row h_F^T delta_F and its x_hat row u^T v (the penalty). Its
 * squared Frobenius norm is sum_{i,j} (a_i . a_j)(d_i . d_j) over those three pairs (a 3x3 Gram of
 * each side), so per-example norms cost O(width) per example and layer instead of materialising
 * O(width^2) per-example gradients. Biases add |delta_R + delta_F|^2. */
typedef struct {
  const dg_critic_net *net;
  dg_critic_ws *ws;
  int B;
} norm_job;

/* Gram entries of three rows: out = {00, 11, 22, 01, 02, 12}, in double. */
static void gram3(const float *x0, const float *x1, const float *x2, int n, double out[6]) {
  double s00 = 0, s11 = 0, s22 = 0, s01 = 0, s02 = 0, s12 = 0;
  for (int k = 0; k < n; k++) {
    double a = x0[k], b = x1[k], c = x2[k];
    s00 += a * a, s11 += b * b, s22 += c * c, s01 += a * b, s02 += a * c, s12 += b * c;
  }
  out[0] = s00, out[1] = s11, out[2] = s22, out[3] = s01, out[4] = s02, out[5] = s12;
}

static double gram_product(const double a[6], const double d[6]) {
  return a[0] * d[0] + a[1] * d[1] + a[2] * d[2] + 2.0 * (a[3] * d[3] + a[4] * d[4] + a[5] * d[5]);
}

static void example_norm_task(void *ctx, int chunk, int n_chunks, int thread) {
  const norm_job *j = ctx;
  const dg_critic_net *net = j->net;
  dg_critic_ws *ws = j->ws;
  int B = j->B, L = net->n_hidden;
  int b0, b1;
  dg_stripe(B, 1, chunk, n_chunks, &b0, &b1);
  for (int b = b0; b < b1; b++) {
    double sq = 0.0, ga[6], gd[6];
    for (int l = 0; l < L; l++) {
      int wa = net->width[l], wd = net->width[l + 1];
      const float *a = ws->act[l], *d = ws->delta[l + 1];
      gram3(a + (size_t)b * wa, a + (size_t)(B + b) * wa, a + (size_t)(2 * B + b) * wa, wa, ga);
      gram3(d + (size_t)b * wd, d + (size_t)(B + b) * wd, d + (size_t)(2 * B + b) * wd, wd, gd);
      sq += gram_product(ga, gd);
      sq += gd[0] + gd[1] + 2.0 * gd[3]; /* bias: |delta_R + delta_F|^2 */
    }
    /* Output layer: the row coefficients dout are the "deltas" (x_hat rows: 1, with u_L as activation). */
    int w = net->width[L];
    const float *a = ws->act[L];
    gram3(a + (size_t)b * w, a + (size_t)(B + b) * w, a + (size_t)(2 * B + b) * w, w, ga);
    double cr = ws->dout[b], cf = ws->dout[B + b], cx = ws->dout[2 * B + b];
    gd[0] = cr * cr, gd[1] = cf * cf, gd[2] = cx * cx, gd[3] = cr * cf, gd[4] = cr * cx, gd[5] = cf * cx;
    sq += gram_product(ga, gd);
    sq += (cr + cf) * (cr + cf);
    ws->ex_norm[b] = (float)((double)B * sqrt(sq > 0.0 ? sq : 0.0));
  }
}

/* Scales example b's rows by clip[b] wherever they enter the weight-gradient products: its real and
 * fake deltas and row coefficients, and its penalty rows u_l (v_l then needs no scaling). */
static void scale_example_rows(const dg_critic_net *net, dg_critic_ws *ws, int B) {
  int L = net->n_hidden;
  for (int b = 0; b < B; b++) {
    float c = ws->clip[b];
    if (c == 1.0f) continue;
    for (int l = 1; l <= L; l++) {
      int w = net->width[l];
      float *dr = ws->delta[l] + (size_t)b * w, *df = ws->delta[l] + (size_t)(B + b) * w;
      for (int k = 0; k < w; k++) dr[k] *= c, df[k] *= c;
    }
    for (int l = 0; l <= L; l++) {
      int w = net->width[l];
      float *u = ws->act[l] + (size_t)(2 * B + b) * w;
      for (int k = 0; k < w; k++) u[k] *= c;
    }
    ws->dout[b] *= c;
    ws->dout[B + b] *= c;
  }
}

static void clip_examples(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int B, dg_dp_clip *dp) {
  norm_job j = {net, ws, B};
  int chunks = dg_pool_size(pool) > 1 && B >= 16 ? 2 * dg_pool_size(pool) : 1;
  dg_pool_run(pool, example_norm_task, &j, chunks);
  double sum = 0.0;
  int clipped = 0;
  float C = dp->clip_norm;
  for (int b = 0; b < B; b++) {
    float norm = ws->ex_norm[b];
    sum += norm;
    /* Only examples strictly above C change: a huge C leaves every row (and the result) bit for bit
     * as without DP. */
    if (norm > C) {
      ws->clip[b] = C / norm;
      clipped++;
    } else {
      ws->clip[b] = 1.0f;
    }
  }
  dp->mean_norm = sum / B;
  dp->clipped_fraction = (double)clipped / B;
  if (clipped) scale_example_rows(net, ws, B);
}

static void critic_wgan_gp_grads(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int B, float lambda, dg_dp_clip *dp,
                                 double *mean_real, double *mean_fake, double *gp);

void dg_critic_wgan_gp_grads(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int B, float lambda, double *mean_real,
                             double *mean_fake, double *gp) {
  critic_wgan_gp_grads(pool, net, ws, B, lambda, NULL, mean_real, mean_fake, gp);
}

void dg_critic_wgan_gp_grads_dp(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int B, float lambda, dg_dp_clip *dp,
                                double *mean_real, double *mean_fake, double *gp) {
  critic_wgan_gp_grads(pool, net, ws, B, lambda, dp, mean_real, mean_fake, gp);
}

static void critic_wgan_gp_grads(dg_pool *pool, const dg_critic_net *net, dg_critic_ws *ws, int B, float lambda, dg_dp_clip *dp,
                                 double *mean_real, double *mean_fake, double *gp) {
  int L = net->n_hidden, w0 = net->width[0];
  int rows = 3 * B;
  double sr = 0.0, sf = 0.0;
  for (int b = 0; b < B; b++) {
    sr += ws->out[b];
    sf += ws->out[B + b];
  }
  *mean_real = sr / B;
  *mean_fake = sf / B;
  /* Row coefficients: the WGAN loss for real and fake rows, plain input gradients for x_hat rows. */
  for (int b = 0; b < B; b++) {
    ws->dout[b] = -1.0f / B;
    ws->dout[B + b] = 1.0f / B;
    ws->dout[2 * B + b] = 1.0f;
  }
  DG_PROF_T0();
  critic_deltas(pool, net, ws, rows);
  DG_PROF_LAP(DG_PROF_CRITIC_DELTAS);
  critic_input_grad(pool, net, ws, 2 * B, B);
  DG_PROF_LAP(DG_PROF_CRITIC_INPUT_GRAD);

  /* Per-example norms; dgp/dg_b = lambda * 2 (|g_b| - 1) g_b / |g_b| / B becomes u_0, stored over x_hat. */
  double gsum = 0.0;
  float *u0 = ws->act[0] + (size_t)2 * B * w0;
  for (int b = 0; b < B; b++) {
    const float *g = ws->g + (size_t)b * w0;
    double q = 0.0;
    for (int k = 0; k < w0; k++) q += (double)g[k] * g[k];
    /* The squared norm is floored at 1e-24 like reference-networks.ts: an all-dead example (g = 0)
     * then has gp term 1 and no gradient, instead of 0/0. */
    double norm = sqrt(q > 1e-24 ? q : 1e-24);
    gsum += (norm - 1.0) * (norm - 1.0);
    float coef = q > 1e-24 ? (float)(2.0 * lambda * (norm - 1.0) / norm / B) : 0.0f;
    ws->norm[b] = (float)norm;
    float *u = u0 + (size_t)b * w0;
    for (int k = 0; k < w0; k++) u[k] = coef * g[k];
  }
  *gp = gsum / B;

  /* u_l = m_l * (u_{l-1} W_l): dg pushed forward through the critic with its masks frozen, no biases.
   * Each u_l replaces layer l's x_hat activations, which nothing needs any more. */
  for (int l = 1; l <= L; l++) {
    float *prev = ws->act[l - 1] + (size_t)2 * B * net->width[l - 1];
    float *cur = ws->act[l] + (size_t)2 * B * net->width[l];
    size_t n = (size_t)B * net->width[l];
    dg_gemm(pool, 0, 0, B, net->width[l], net->width[l - 1], 1.0f, prev, net->width[l - 1], net->W[l - 1], net->width[l], 0.0f, ws->tmp,
            net->width[l]);
    for (size_t i = 0; i < n; i++) cur[i] = cur[i] > 0.0f ? ws->tmp[i] : 0.0f;
  }

  DG_PROF_LAP(DG_PROF_CRITIC_U);
  if (dp) clip_examples(pool, net, ws, B, dp);

  /* Weight gradients over all 3B rows at once: real/fake rows carry h_{l-1} and the WGAN deltas,
   * x_hat rows carry u_{l-1} and v_l, which is the penalty's dW_l += u_{l-1}^T v_l. */
  for (int l = 0; l < L; l++) {
    dg_gemm(pool, 1, 0, net->width[l], net->width[l + 1], rows, 1.0f, ws->act[l], net->width[l], ws->delta[l + 1], net->width[l + 1], 1.0f,
            net->dW[l], net->width[l + 1]);
    column_sums_add_real_fake(net->db[l], ws->delta[l + 1], B, net->width[l + 1]);
  }
  int w = net->width[L];
  float *dw = net->dW[L];
  for (int r = 0; r < rows; r++) {
    const float *a = ws->act[L] + (size_t)r * w;
    float c = ws->dout[r];
    for (int k = 0; k < w; k++) dw[k] += c * a[k];
  }
  column_sums_add_real_fake(net->db[L], ws->dout, B, 1);
  DG_PROF_LAP(DG_PROF_CRITIC_DW);
}

/* ---------------------------------------------------------------- Adam */

void dg_adam_update(float *p, const float *g, float *m, float *v, size_t n, float lr, float beta1, float beta2, int64_t t) {
  float c1 = (float)(1.0 - pow(beta1, (double)t));
  float c2 = (float)(1.0 - pow(beta2, (double)t));
  float b1 = beta1, b2 = beta2;
  for (size_t i = 0; i < n; i++) {
    float gi = g[i];
    float mi = b1 * m[i] + (1.0f - b1) * gi;
    float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] -= lr * (mi / c1) / (sqrtf(vi / c2) + 1e-8f);
  }
}
