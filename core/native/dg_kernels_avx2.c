/*
 * AVX2/FMA kernels: the GEMM micro-kernel, a vector exp, and the LSTM cell. The functions here are
 * compiled for AVX2/FMA (the target pragma, so the build needs no special flags) and dg_kernels_avx2()
 * hands them out only when the running CPU has both: the same binary still runs, on the portable
 * kernels, on an older x86.
 */
#include "dg_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#include <string.h>

static void ukernel_avx2(int kc, const float *a, long rs, long cs, const float *b, float *c, int ldc, float alpha, float beta, int mr,
                         int nr) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps();
  __m256 c40 = _mm256_setzero_ps(), c41 = _mm256_setzero_ps();
  __m256 c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  const float *a0 = a, *a1 = a + rs, *a2 = a + 2 * rs, *a3 = a + 3 * rs, *a4 = a + 4 * rs, *a5 = a + 5 * rs;
  for (int k = 0; k < kc; k++) {
    __m256 b0 = _mm256_loadu_ps(b);
    __m256 b1 = _mm256_loadu_ps(b + 8);
    __m256 ak;
    ak = _mm256_broadcast_ss(a0);
    c00 = _mm256_fmadd_ps(ak, b0, c00);
    c01 = _mm256_fmadd_ps(ak, b1, c01);
    ak = _mm256_broadcast_ss(a1);
    c10 = _mm256_fmadd_ps(ak, b0, c10);
    c11 = _mm256_fmadd_ps(ak, b1, c11);
    ak = _mm256_broadcast_ss(a2);
    c20 = _mm256_fmadd_ps(ak, b0, c20);
    c21 = _mm256_fmadd_ps(ak, b1, c21);
    ak = _mm256_broadcast_ss(a3);
    c30 = _mm256_fmadd_ps(ak, b0, c30);
    c31 = _mm256_fmadd_ps(ak, b1, c31);
    ak = _mm256_broadcast_ss(a4);
    c40 = _mm256_fmadd_ps(ak, b0, c40);
    c41 = _mm256_fmadd_ps(ak, b1, c41);
    ak = _mm256_broadcast_ss(a5);
    c50 = _mm256_fmadd_ps(ak, b0, c50);
    c51 = _mm256_fmadd_ps(ak, b1, c51);
    a0 += cs, a1 += cs, a2 += cs, a3 += cs, a4 += cs, a5 += cs;
    b += DG_NR;
  }
  __m256 acc[DG_MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  if (mr == DG_MR && nr == DG_NR) {
    for (int i = 0; i < DG_MR; i++) {
      float *ci = c + (size_t)i * ldc;
      for (int h = 0; h < 2; h++) {
        __m256 r = _mm256_mul_ps(va, acc[i][h]);
        if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8 * h), r);
        _mm256_storeu_ps(ci + 8 * h, r);
      }
    }
    return;
  }
  float tile[DG_MR][DG_NR];
  for (int i = 0; i < DG_MR; i++) {
    _mm256_storeu_ps(tile[i], _mm256_mul_ps(va, acc[i][0]));
    _mm256_storeu_ps(tile[i] + 8, _mm256_mul_ps(va, acc[i][1]));
  }
  for (int i = 0; i < mr; i++) {
    float *ci = c + (size_t)i * ldc;
    if (beta == 0.0f)
      for (int j = 0; j < nr; j++) ci[j] = tile[i][j];
    else
      for (int j = 0; j < nr; j++) ci[j] = tile[i][j] + beta * ci[j];
  }
}

/* exp with a degree-6 polynomial after range reduction by ln 2 (Cephes expf), about 1-2 ulp. */
static inline __m256 exp256(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

static inline __m256 sigmoid256(__m256 x) {
  __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp256(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

/* tanh(x) = 2 sigmoid(2x) - 1 */
static inline __m256 tanh256(__m256 x) {
  __m256 two = _mm256_set1_ps(2.0f);
  return _mm256_fmsub_ps(two, sigmoid256(_mm256_mul_ps(two, x)), _mm256_set1_ps(1.0f));
}

static void vexp_avx2(float *x, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, exp256(_mm256_loadu_ps(x + i)));
  if (i < n) {
    float t[8] = {0};
    memcpy(t, x + i, sizeof(float) * (n - i));
    _mm256_storeu_ps(t, exp256(_mm256_loadu_ps(t)));
    memcpy(x + i, t, sizeof(float) * (n - i));
  }
}

/* Eight units of one row. */
static inline void cell8(float *g, const float *bs, int H, const float *cp, float *c, float *tc, float *h) {
  __m256 pi = _mm256_loadu_ps(g), pf = _mm256_loadu_ps(g + H), pg = _mm256_loadu_ps(g + 2 * H), po = _mm256_loadu_ps(g + 3 * H);
  if (bs) {
    pi = _mm256_add_ps(pi, _mm256_loadu_ps(bs));
    pf = _mm256_add_ps(pf, _mm256_loadu_ps(bs + H));
    pg = _mm256_add_ps(pg, _mm256_loadu_ps(bs + 2 * H));
    po = _mm256_add_ps(po, _mm256_loadu_ps(bs + 3 * H));
  }
  __m256 i = sigmoid256(pi), f = sigmoid256(pf), gg = tanh256(pg), o = sigmoid256(po);
  __m256 cprev = cp ? _mm256_loadu_ps(cp) : _mm256_setzero_ps();
  __m256 cn = _mm256_fmadd_ps(f, cprev, _mm256_mul_ps(i, gg));
  __m256 t = tanh256(cn);
  _mm256_storeu_ps(g, i);
  _mm256_storeu_ps(g + H, f);
  _mm256_storeu_ps(g + 2 * H, gg);
  _mm256_storeu_ps(g + 3 * H, o);
  _mm256_storeu_ps(c, cn);
  _mm256_storeu_ps(tc, t);
  _mm256_storeu_ps(h, _mm256_mul_ps(o, t));
}

static void lstm_cell_avx2(int rows, int H, float *gates, const float *base, const float *c_prev, float *c, float *tanh_c, float *h, int ldh) {
  for (int r = 0; r < rows; r++) {
    float *g = gates + (size_t)r * 4 * H;
    const float *bs = base ? base + (size_t)r * 4 * H : NULL;
    const float *cp = c_prev ? c_prev + (size_t)r * H : NULL;
    float *cr = c + (size_t)r * H, *tr = tanh_c + (size_t)r * H, *hr = h + (size_t)r * ldh;
    int u = 0;
    for (; u + 8 <= H; u += 8) cell8(g + u, bs ? bs + u : NULL, H, cp ? cp + u : NULL, cr + u, tr + u, hr + u);
    if (u < H) {
      /* The tail goes through a padded copy so every unit sees the same arithmetic. */
      int n = H - u;
      float tg[4 * 8] = {0}, tb[4 * 8] = {0}, tcp[8] = {0}, tcn[8], ttc[8], th[8];
      for (int k = 0; k < 4; k++) {
        memcpy(tg + 8 * k, g + k * H + u, sizeof(float) * n);
        if (bs) memcpy(tb + 8 * k, bs + k * H + u, sizeof(float) * n);
      }
      if (cp) memcpy(tcp, cp + u, sizeof(float) * n);
      cell8(tg, tb, 8, tcp, tcn, ttc, th);
      for (int k = 0; k < 4; k++) memcpy(g + k * H + u, tg + 8 * k, sizeof(float) * n);
      memcpy(cr + u, tcn, sizeof(float) * n);
      memcpy(tr + u, ttc, sizeof(float) * n);
      memcpy(hr + u, th, sizeof(float) * n);
    }
  }
}

static void lstm_cell_backward_avx2(int rows, int H, float *gates, const float *tanh_c, const float *c_prev, const float *dh, const float *dh_rec,
                                    float *dc, int last) {
  dg_lstm_cell_backward_body(rows, H, gates, tanh_c, c_prev, dh, dh_rec, dc, last);
}

static const dg_kernels avx2 = {"avx2-fma", ukernel_avx2, vexp_avx2, lstm_cell_avx2, lstm_cell_backward_avx2};

#pragma GCC pop_options

/* AVX-512: the same 6x16 tile in one zmm per row. Six accumulators cannot hide the FMA latency, so the
 * depth loop alternates between two sets of six (even and odd k) and adds them at the end. Same panel
 * layout as AVX2, so packing is shared; about 1.6x the AVX2 kernel where the CPU has AVX-512. */
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")

static void ukernel_avx512(int kc, const float *a, long rs, long cs, const float *b, float *c, int ldc, float alpha, float beta, int mr, int nr) {
  __m512 e0 = _mm512_setzero_ps(), e1 = _mm512_setzero_ps(), e2 = _mm512_setzero_ps(), e3 = _mm512_setzero_ps(), e4 = _mm512_setzero_ps(),
         e5 = _mm512_setzero_ps();
  __m512 o0 = _mm512_setzero_ps(), o1 = _mm512_setzero_ps(), o2 = _mm512_setzero_ps(), o3 = _mm512_setzero_ps(), o4 = _mm512_setzero_ps(),
         o5 = _mm512_setzero_ps();
  const float *a0 = a, *a1 = a + rs, *a2 = a + 2 * rs, *a3 = a + 3 * rs, *a4 = a + 4 * rs, *a5 = a + 5 * rs;
  int k = 0;
  for (; k + 1 < kc; k += 2) {
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + DG_NR);
    e0 = _mm512_fmadd_ps(_mm512_set1_ps(*a0), b0, e0);
    o0 = _mm512_fmadd_ps(_mm512_set1_ps(a0[cs]), b1, o0);
    e1 = _mm512_fmadd_ps(_mm512_set1_ps(*a1), b0, e1);
    o1 = _mm512_fmadd_ps(_mm512_set1_ps(a1[cs]), b1, o1);
    e2 = _mm512_fmadd_ps(_mm512_set1_ps(*a2), b0, e2);
    o2 = _mm512_fmadd_ps(_mm512_set1_ps(a2[cs]), b1, o2);
    e3 = _mm512_fmadd_ps(_mm512_set1_ps(*a3), b0, e3);
    o3 = _mm512_fmadd_ps(_mm512_set1_ps(a3[cs]), b1, o3);
    e4 = _mm512_fmadd_ps(_mm512_set1_ps(*a4), b0, e4);
    o4 = _mm512_fmadd_ps(_mm512_set1_ps(a4[cs]), b1, o4);
    e5 = _mm512_fmadd_ps(_mm512_set1_ps(*a5), b0, e5);
    o5 = _mm512_fmadd_ps(_mm512_set1_ps(a5[cs]), b1, o5);
    a0 += 2 * cs, a1 += 2 * cs, a2 += 2 * cs, a3 += 2 * cs, a4 += 2 * cs, a5 += 2 * cs;
    b += 2 * DG_NR;
  }
  if (k < kc) {
    __m512 b0 = _mm512_loadu_ps(b);
    e0 = _mm512_fmadd_ps(_mm512_set1_ps(*a0), b0, e0);
    e1 = _mm512_fmadd_ps(_mm512_set1_ps(*a1), b0, e1);
    e2 = _mm512_fmadd_ps(_mm512_set1_ps(*a2), b0, e2);
    e3 = _mm512_fmadd_ps(_mm512_set1_ps(*a3), b0, e3);
    e4 = _mm512_fmadd_ps(_mm512_set1_ps(*a4), b0, e4);
    e5 = _mm512_fmadd_ps(_mm512_set1_ps(*a5), b0, e5);
  }
  __m512 acc[DG_MR] = {_mm512_add_ps(e0, o0), _mm512_add_ps(e1, o1), _mm512_add_ps(e2, o2),
                       _mm512_add_ps(e3, o3), _mm512_add_ps(e4, o4), _mm512_add_ps(e5, o5)};
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  __mmask16 cols = (__mmask16)((1u << nr) - 1u);
  for (int i = 0; i < mr; i++) {
    float *ci = c + (size_t)i * ldc;
    __m512 r = _mm512_mul_ps(va, acc[i]);
    if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(cols, ci), r);
    _mm512_mask_storeu_ps(ci, cols, r);
  }
}

/* NP (2 or 3) adjacent 16-column panels at once: a 6 x 16NP tile, 6 NP accumulators (enough chains to
 * hide the FMA latency without the even/odd split), NP panel loads and 6 broadcasts per depth step
 * instead of 1 and 6 per 16 columns: fewer loads per FMA, and each row of A is read once per 16 NP
 * columns instead of per 16. Panel q is at b + q * bstride; nr <= 16 NP valid columns. */
static inline __attribute__((always_inline)) void ukernel_avx512_np(const int NP, int kc, const float *a, long rs, long cs, const float *b,
                                                                    long bstride, float *c, int ldc, float alpha, float beta, int mr, int nr) {
  __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00, c21 = c00, c22 = c00;
  __m512 c30 = c00, c31 = c00, c32 = c00, c40 = c00, c41 = c00, c42 = c00, c50 = c00, c51 = c00, c52 = c00;
  const float *a0 = a, *a1 = a + rs, *a2 = a + 2 * rs, *a3 = a + 3 * rs, *a4 = a + 4 * rs, *a5 = a + 5 * rs;
  const float *b1p = b + bstride, *b2p = b + 2 * bstride;
  for (int k = 0; k < kc; k++) {
    __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b1p), b2 = NP > 2 ? _mm512_loadu_ps(b2p) : b1;
    __m512 x;
#define DG_ROW(i)                                                                                                                          \
  x = _mm512_set1_ps(*a##i);                                                                                                               \
  c##i##0 = _mm512_fmadd_ps(x, b0, c##i##0);                                                                                                 \
  c##i##1 = _mm512_fmadd_ps(x, b1, c##i##1);                                                                                                 \
  if (NP > 2) c##i##2 = _mm512_fmadd_ps(x, b2, c##i##2);
    DG_ROW(0) DG_ROW(1) DG_ROW(2) DG_ROW(3) DG_ROW(4) DG_ROW(5)
#undef DG_ROW
    a0 += cs, a1 += cs, a2 += cs, a3 += cs, a4 += cs, a5 += cs;
    b += DG_NR, b1p += DG_NR, b2p += DG_NR;
  }
  __m512 acc[DG_MR][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32}, {c40, c41, c42}, {c50, c51, c52}};
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  for (int q = 0; q < NP; q++) {
    int n = nr - q * DG_NR;
    if (n <= 0) break;
    __mmask16 cols = n >= DG_NR ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u);
    for (int i = 0; i < mr; i++) {
      float *ci = c + (size_t)i * ldc + q * DG_NR;
      __m512 r = _mm512_mul_ps(va, acc[i][q]);
      if (beta != 0.0f) r = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(cols, ci), r);
      _mm512_mask_storeu_ps(ci, cols, r);
    }
  }
}

static void ukernel_avx512_wide(int np, int kc, const float *a, long rs, long cs, const float *b, long bstride, float *c, int ldc, float alpha,
                                float beta, int mr, int nr) {
  if (np >= 3)
    ukernel_avx512_np(3, kc, a, rs, cs, b, bstride, c, ldc, alpha, beta, mr, nr);
  else
    ukernel_avx512_np(2, kc, a, rs, cs, b, bstride, c, ldc, alpha, beta, mr, nr);
}

static inline __m512 exp512(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

/* 1 / (1 + exp(-x)). The reciprocal is rcp14 plus one Newton step (relative error ~2^-27, within an ulp
 * or two of a division) instead of vdivps, whose zmm form has a throughput of ~1 per 10 cycles: the
 * LSTM cell takes five of these per 16 units. d >= 1 and <= 1 + e^87, so r stays a normal float. */
static inline __m512 sigmoid512(__m512 x) {
  __m512 one = _mm512_set1_ps(1.0f);
  __m512 d = _mm512_add_ps(one, exp512(_mm512_sub_ps(_mm512_setzero_ps(), x)));
  __m512 r = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(d, r, one), r);
}

static inline __m512 tanh512(__m512 x) {
  __m512 two = _mm512_set1_ps(2.0f);
  return _mm512_fmsub_ps(two, sigmoid512(_mm512_mul_ps(two, x)), _mm512_set1_ps(1.0f));
}

/* Sixteen units of one row (masked for the tail): the same arithmetic as cell8. */
static inline void cell16(__mmask16 m, float *g, const float *bs, int H, const float *cp, float *c, float *tc, float *h) {
  __m512 pi = _mm512_maskz_loadu_ps(m, g), pf = _mm512_maskz_loadu_ps(m, g + H), pg = _mm512_maskz_loadu_ps(m, g + 2 * H),
         po = _mm512_maskz_loadu_ps(m, g + 3 * H);
  if (bs) {
    pi = _mm512_add_ps(pi, _mm512_maskz_loadu_ps(m, bs));
    pf = _mm512_add_ps(pf, _mm512_maskz_loadu_ps(m, bs + H));
    pg = _mm512_add_ps(pg, _mm512_maskz_loadu_ps(m, bs + 2 * H));
    po = _mm512_add_ps(po, _mm512_maskz_loadu_ps(m, bs + 3 * H));
  }
  __m512 i = sigmoid512(pi), f = sigmoid512(pf), gg = tanh512(pg), o = sigmoid512(po);
  __m512 cprev = cp ? _mm512_maskz_loadu_ps(m, cp) : _mm512_setzero_ps();
  __m512 cn = _mm512_fmadd_ps(f, cprev, _mm512_mul_ps(i, gg));
  __m512 t = tanh512(cn);
  _mm512_mask_storeu_ps(g, m, i);
  _mm512_mask_storeu_ps(g + H, m, f);
  _mm512_mask_storeu_ps(g + 2 * H, m, gg);
  _mm512_mask_storeu_ps(g + 3 * H, m, o);
  _mm512_mask_storeu_ps(c, m, cn);
  _mm512_mask_storeu_ps(tc, m, t);
  _mm512_mask_storeu_ps(h, m, _mm512_mul_ps(o, t));
}

static void lstm_cell_avx512(int rows, int H, float *gates, const float *base, const float *c_prev, float *c, float *tanh_c, float *h, int ldh) {
  for (int r = 0; r < rows; r++) {
    float *g = gates + (size_t)r * 4 * H;
    const float *bs = base ? base + (size_t)r * 4 * H : NULL;
    const float *cp = c_prev ? c_prev + (size_t)r * H : NULL;
    float *cr = c + (size_t)r * H, *tr = tanh_c + (size_t)r * H, *hr = h + (size_t)r * ldh;
    for (int u = 0; u < H; u += 16) {
      __mmask16 m = H - u >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (H - u)) - 1u);
      cell16(m, g + u, bs ? bs + u : NULL, H, cp ? cp + u : NULL, cr + u, tr + u, hr + u);
    }
  }
}

static void vexp_avx512(float *x, size_t n) {
  for (size_t i = 0; i < n; i += 16) {
    __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(x + i, m, exp512(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

static void lstm_cell_backward_avx512(int rows, int H, float *gates, const float *tanh_c, const float *c_prev, const float *dh, const float *dh_rec,
                                      float *dc, int last) {
  dg_lstm_cell_backward_body(rows, H, gates, tanh_c, c_prev, dh, dh_rec, dc, last);
}

static const dg_kernels avx512 = {"avx512", ukernel_avx512, vexp_avx512, lstm_cell_avx512, lstm_cell_backward_avx512, ukernel_avx512_wide, 3};

#pragma GCC pop_options

const dg_kernels *dg_kernels_avx2(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &avx2;
  return NULL;
}

const dg_kernels *dg_kernels_avx512(void) {
  __builtin_cpu_init();
  if (dg_kernels_avx2() && __builtin_cpu_supports("avx512f")) return &avx512;
  return NULL;
}

#else

const dg_kernels *dg_kernels_avx2(void) { return NULL; }
const dg_kernels *dg_kernels_avx512(void) { return NULL; }

#endif
