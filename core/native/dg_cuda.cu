/*
 * The DoppelGANger training core on the GPU (dg_cuda.h). It follows dg_cpu.c step by step: the same
 * workspaces, the same order of operations, the same stop-gradients; the comments there explain the
 * math. Row-major throughout; cuBLAS (column-major) computes C^T = op(B)^T op(A)^T instead.
 *
 * Launch overhead dominates a DoppelGANger iteration on a GPU (PyTorch issues thousands of tiny
 * kernels), so: the LSTM's 55 dependent steps run inside one persistent kernel per pass (each block
 * owns some batch rows and keeps the recurrent kernel in shared memory), bias/ReLU/batch-norm/heads are
 * fused per layer, and the whole iteration (noise included, drawn on the device from positions kept in
 * device memory) is captured once as a CUDA graph and replayed.
 */
#include "dg_cuda.h"

extern "C" {
#include "dg_internal.h"
}

#include <cuda_runtime.h>
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- cuBLAS, loaded at run time */

typedef struct cublasContext *cublasHandle_t;
typedef int cublasStatus_t;
enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1 };

static struct {
  int loaded;
  void *lib;
  cublasStatus_t (*create)(cublasHandle_t *);
  cublasStatus_t (*destroy)(cublasHandle_t);
  cublasStatus_t (*set_stream)(cublasHandle_t, cudaStream_t);
  cublasStatus_t (*set_workspace)(cublasHandle_t, void *, size_t);
  cublasStatus_t (*set_math_mode)(cublasHandle_t, int);
  cublasStatus_t (*sgemm)(cublasHandle_t, int, int, int, int, int, const float *, const float *, int, const float *, int, const float *, float *,
                          int);
} cublas;

static int load_cublas(void) {
  if (cublas.loaded) return cublas.loaded > 0 ? DG_OK : dg_fail(DG_ERR_CONFIG, "cuBLAS could not be loaded");
  /* The toolkit's default location last: it is often not on the loader's path. */
  const char *names[] = {"libcublas.so.13", "libcublas.so.12", "libcublas.so", "/usr/local/cuda/lib64/libcublas.so.13"};
  for (int i = 0; i < 4 && !cublas.lib; i++) cublas.lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
  if (!cublas.lib) {
    cublas.loaded = -1;
    return dg_fail(DG_ERR_CONFIG, "cannot load cuBLAS (libcublas.so.13): %s; set LD_LIBRARY_PATH to the CUDA libraries", dlerror());
  }
  *(void **)&cublas.create = dlsym(cublas.lib, "cublasCreate_v2");
  *(void **)&cublas.destroy = dlsym(cublas.lib, "cublasDestroy_v2");
  *(void **)&cublas.set_stream = dlsym(cublas.lib, "cublasSetStream_v2");
  *(void **)&cublas.set_workspace = dlsym(cublas.lib, "cublasSetWorkspace_v2");
  *(void **)&cublas.sgemm = dlsym(cublas.lib, "cublasSgemm_v2");
  *(void **)&cublas.set_math_mode = dlsym(cublas.lib, "cublasSetMathMode");
  if (!cublas.create || !cublas.destroy || !cublas.set_stream || !cublas.sgemm) {
    cublas.loaded = -1;
    return dg_fail(DG_ERR_CONFIG, "libcublas lacks cublasCreate_v2/cublasSgemm_v2");
  }
  cublas.loaded = 1;
  return DG_OK;
}

#define CUDA_TRY(expr)                                                                                             \
  do {                                                                                                             \
    cudaError_t err_ = (expr);                                                                                     \
    if (err_ != cudaSuccess) return dg_fail(DG_ERR_CONFIG, "%s failed: %s (%s:%d)", #expr, cudaGetErrorString(err_), __FILE__, __LINE__); \
  } while (0)

/* ---------------------------------------------------------------- device Philox (dg_rng.c) */

__device__ __forceinline__ uint32_t philox_lane(uint32_t seed, uint32_t stream, uint64_t position) {
  uint64_t index = position >> 2;
  uint32_t c0 = (uint32_t)index, c1 = (uint32_t)(index >> 32), c2 = stream, c3 = 0, k0 = seed, k1 = 0x5eedu;
#pragma unroll
  for (int round = 0; round < 10; round++) {
    uint32_t hi0 = __umulhi(0xd2511f53u, c0), lo0 = 0xd2511f53u * c0;
    uint32_t hi1 = __umulhi(0xcd9e8d57u, c2), lo1 = 0xcd9e8d57u * c2;
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 += 0x9e3779b9u;
    k1 += 0xbb67ae85u;
  }
  switch (position & 3) {
    case 0: return c0;
    case 1: return c1;
    case 2: return c2;
    default: return c3;
  }
}

__device__ __forceinline__ double uniform_at(uint32_t seed, uint64_t position) {
  return ((double)philox_lane(seed, DG_STREAM_NOISE, position) + 0.5) / 4294967296.0;
}

__device__ __forceinline__ float normal_at(uint32_t seed, uint64_t position) {
  double u1 = uniform_at(seed, position), u2 = uniform_at(seed, position + 1);
  return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

/* Normal number i = r * cols + k from draw *position + offset, into out[r * ld + k]. */
__global__ void k_fill_normal(float *out, int rows, int cols, int ld, uint32_t seed, const uint64_t *position, uint64_t offset) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i < (long)rows * cols) out[(i / cols) * ld + i % cols] = normal_at(seed, *position + offset + 2 * (uint64_t)i);
}

/* z_f drawn batch-major (example, step, dim) into the LSTM input blocks xh[step][example][0:nf]. */
__global__ void k_fill_feature_noise(float *xh, int rows, int steps, int nf, int ld, uint32_t seed, const uint64_t *position, uint64_t offset) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  long n = (long)rows * steps * nf;
  if (i >= n) return;
  int d = (int)(i % nf), j = (int)((i / nf) % steps), b = (int)(i / ((long)nf * steps));
  xh[((size_t)j * rows + b) * ld + d] = normal_at(seed, *position + offset + 2 * (uint64_t)i);
}

__global__ void k_fill_uniform(float *out, int n, uint32_t seed, const uint64_t *position, uint64_t offset) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = (float)uniform_at(seed, *position + offset + i);
}

/* DP-SGD on Poisson-sampled batches: real example b (training-set row id ids[b]) at critic step
 * *critic_step meets fake series partner[b] in [0, E) and gets its interpolation weights, from the
 * draws keyed by (step, id) alone: the same as dg_cpu.c's pair_examples. */
__global__ void k_pair_examples(int32_t *partner, float *a_main, float *a_aux, const int32_t *ids, int B, int E, uint32_t seed, const int64_t *critic_step) {
  int b = blockIdx.x * blockDim.x + threadIdx.x;
  if (b >= B) return;
  uint64_t p = dg_pairing_position(*critic_step, ids[b]);
  partner[b] = dg_pairing_partner(philox_lane(seed, DG_STREAM_DP_PAIRING, p), E);
  a_main[b] = (float)(((double)philox_lane(seed, DG_STREAM_DP_PAIRING, p + 1) + 0.5) / 4294967296.0);
  a_aux[b] = (float)(((double)philox_lane(seed, DG_STREAM_DP_PAIRING, p + 2) + 0.5) / 4294967296.0);
}

__global__ void k_advance(uint64_t *position, uint64_t draws) { *position += draws; }
__global__ void k_step(int64_t *step) { *step += 1; }

/* ---------------------------------------------------------------- elementwise and reductions */

static inline unsigned blocks_for(long n, int threads) { return (unsigned)((n + threads - 1) / threads); }

/* Column reductions (bias gradients, batch-norm statistics) run on blocks of COL_X x COL_Y threads:
 * threadIdx.x picks one of COL_X adjacent columns (a warp reads a row's columns in one transaction),
 * threadIdx.y strides over rows, and the COL_Y partial sums meet in a fixed tree, so results are
 * deterministic. One thread per column looping over all rows would be a chain of thousands of dependent
 * global-memory loads (the feature bias's 55 x 1024 rows: milliseconds). */
#define COL_X 32
#define COL_Y 16
#define COLSUM_CHUNK 1024 /* rows per block in k_colsum's first pass: 64 per thread */
static inline dim3 column_blocks(int cols, int chunks = 1) { return dim3(blocks_for(cols, COL_X), chunks); }
static const dim3 COLUMN_THREADS(COL_X, COL_Y);

/* The sum of v over threadIdx.y, to every thread of the block; all threads must call it. */
template <typename T>
__device__ T sum_over_y(T v) {
  __shared__ T part[COL_Y][COL_X + 1];
  part[threadIdx.y][threadIdx.x] = v;
  __syncthreads();
  for (int h = COL_Y / 2; h > 0; h /= 2) {
    if (threadIdx.y < h) part[threadIdx.y][threadIdx.x] += part[threadIdx.y + h][threadIdx.x];
    __syncthreads();
  }
  T total = part[0][threadIdx.x];
  __syncthreads(); /* part is reused by the next call */
  return total;
}

/* Sum over rows [r0, r1) of x[r, c] (times weight[r] when given), to every thread of the column. In
 * double: a gradient that is zero in exact arithmetic then comes out at most ~1e-13 of its terms, which
 * Adam's epsilon (1e-8) turns into no step, where a float tree's residue (~1e-8) could become a full
 * +-lr step that the reference does not take. (The reference sums in row order, which cancels exactly
 * in more cases: a unit of the last hidden layer active on as many real as fake rows has terms +-c,
 * and the row-order partial sums of the real and fake rows are the same multiples of c; a tree groups
 * them differently.) */
__device__ double column_sum(const float *x, long ld, long r0, long r1, int c, int cols, const float *weight) {
  double s = 0.0;
  if (c < cols)
    for (long r = r0 + threadIdx.y; r < r1; r += COL_Y) s += (double)(weight ? weight[r] : 1.0f) * x[r * ld + c];
  return sum_over_y(s);
}

__global__ void k_bias_relu(float *x, long rows, int cols, const float *bias, int relu) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= rows * cols) return;
  float v = x[i] + (bias ? bias[i % cols] : 0.0f);
  x[i] = relu && v < 0.0f ? 0.0f : v;
}

__global__ void k_scale(float *x, long n, float beta) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i < n) x[i] = beta == 0.0f ? 0.0f : beta * x[i];
}

/* Batch norm + ReLU for one hidden layer of a generator MLP: column blocks (COLUMN_THREADS), statistics
 * in double. mode 0: batch statistics; 1: batch statistics and running-statistics update; 2: running
 * statistics. */
__global__ void k_batchnorm_relu(float *z_to_xhat, float *act, float *invstd, const float *gamma, const float *beta, float *moving_mean,
                                 float *moving_var, int rows, int C, int mode, float momentum) {
  int c = blockIdx.x * COL_X + threadIdx.x;
  int live = c < C;
  if (mode == 2) {
    if (!live) return;
    float mm = moving_mean[c], sd = sqrtf(moving_var[c] + 1e-5f);
    for (int r = threadIdx.y; r < rows; r += COL_Y) {
      float y = gamma[c] * (z_to_xhat[(size_t)r * C + c] - mm) / sd + beta[c];
      act[(size_t)r * C + c] = y > 0.0f ? y : 0.0f;
    }
    return;
  }
  double s = 0.0;
  if (live)
    for (int r = threadIdx.y; r < rows; r += COL_Y) s += z_to_xhat[(size_t)r * C + c];
  double mu = sum_over_y(s) / rows, q = 0.0;
  if (live)
    for (int r = threadIdx.y; r < rows; r += COL_Y) {
      double d = z_to_xhat[(size_t)r * C + c] - mu;
      q += d * d;
    }
  double var = sum_over_y(q) / rows;
  if (!live) return;
  float is = (float)(1.0 / sqrt(var + 1e-5));
  float mean = (float)mu;
  for (int r = threadIdx.y; r < rows; r += COL_Y) {
    size_t i = (size_t)r * C + c;
    float xh = (z_to_xhat[i] - mean) * is;
    z_to_xhat[i] = xh;
    float y = gamma[c] * xh + beta[c];
    act[i] = y > 0.0f ? y : 0.0f;
  }
  if (threadIdx.y == 0) {
    invstd[c] = is;
    if (mode == 1) {
      moving_mean[c] = momentum * moving_mean[c] + (1.0f - momentum) * mean;
      moving_var[c] = momentum * moving_var[c] + (1.0f - momentum) * (float)var;
    }
  }
}

/* ReLU backward then batch-norm backward, column blocks. dy is the gradient of the ReLU output; dx
 * receives the gradient of the dense output. */
__global__ void k_batchnorm_relu_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *act, const float *xhat,
                                          const float *invstd, const float *gamma, int rows, int C) {
  int c = blockIdx.x * COL_X + threadIdx.x;
  int live = c < C;
  double sdy = 0.0, sdyx = 0.0;
  if (live)
    for (int r = threadIdx.y; r < rows; r += COL_Y) {
      size_t i = (size_t)r * C + c;
      float d = act[i] > 0.0f ? dy[i] : 0.0f;
      sdy += d;
      sdyx += (double)d * xhat[i];
    }
  sdy = sum_over_y(sdy);
  sdyx = sum_over_y(sdyx);
  if (!live) return;
  if (threadIdx.y == 0) {
    dbeta[c] += (float)sdy;
    dgamma[c] += (float)sdyx;
  }
  float k = gamma[c] * invstd[c] / rows, m1 = (float)sdy, m2 = (float)sdyx;
  for (int r = threadIdx.y; r < rows; r += COL_Y) {
    size_t i = (size_t)r * C + c;
    float d = act[i] > 0.0f ? dy[i] : 0.0f;
    dx[i] = k * (rows * d - m1 - xhat[i] * m2);
  }
}

/* Output heads. A segment is one variable of one group in one row; seg_offset/seg_dim/seg_act describe
 * the segments of one row (groups expanded). */
__device__ __forceinline__ float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }
__device__ __forceinline__ float tanhf_(float x) { return 2.0f / (1.0f + expf(-2.0f * x)) - 1.0f; }

__global__ void k_heads_forward(float *x, int rows, int width, int n_seg, const int *seg_offset, const int *seg_dim, const int *seg_act) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)rows * n_seg) return;
  int s = (int)(i % n_seg);
  float *v = x + (i / n_seg) * width + seg_offset[s];
  int d = seg_dim[s];
  if (seg_act[s] == DG_SOFTMAX) {
    float mx = v[0];
    for (int k = 1; k < d; k++) mx = fmaxf(mx, v[k]);
    float sum = 0.0f;
    for (int k = 0; k < d; k++) {
      v[k] = expf(v[k] - mx);
      sum += v[k];
    }
    for (int k = 0; k < d; k++) v[k] /= sum;
  } else if (seg_act[s] == DG_SIGMOID) {
    for (int k = 0; k < d; k++) v[k] = sigmoidf_(v[k]);
  } else {
    for (int k = 0; k < d; k++) v[k] = tanhf_(v[k]);
  }
}

__global__ void k_heads_backward(float *dx, const float *y, int rows, int width, int n_seg, const int *seg_offset, const int *seg_dim,
                                 const int *seg_act) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)rows * n_seg) return;
  int s = (int)(i % n_seg);
  size_t o = (i / n_seg) * width + seg_offset[s];
  float *d = dx + o;
  const float *v = y + o;
  int n = seg_dim[s];
  if (seg_act[s] == DG_SOFTMAX) {
    float dot = 0.0f;
    for (int k = 0; k < n; k++) dot += d[k] * v[k];
    for (int k = 0; k < n; k++) d[k] = v[k] * (d[k] - dot);
  } else if (seg_act[s] == DG_SIGMOID) {
    for (int k = 0; k < n; k++) d[k] *= v[k] * (1.0f - v[k]);
  } else {
    for (int k = 0; k < n; k++) d[k] *= 1.0f - v[k] * v[k];
  }
}

/* dst[r, c0 + k] = src[r, k] for k < w (column block copy between row-major matrices). */
__global__ void k_copy_cols(float *dst, int ldd, int c0, const float *src, int lds, int rows, int w) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)rows * w) return;
  long r = i / w;
  int k = (int)(i % w);
  dst[r * ldd + c0 + k] = src[r * lds + k];
}

/* dst[b, :] = src[rows[b], :] for rows of width w: a batch gathered from the held training set. */
__global__ void k_gather_rows(float *dst, const float *src, const int32_t *rows, int B, int w) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)B * w) return;
  long b = i / w;
  dst[i] = src[(size_t)rows[b] * w + i % w];
}

/* Gen-flag mask and lengths from the activated heads y [steps * rows, S*F]. One warp per row (blocks
 * of 32 x MASK_ROWS): the lanes look for the first step whose flag is set, t = lane, lane + 32, ... */
#define MASK_ROWS 8
__global__ void k_mask(float *mask, int32_t *lengths, const float *y, int rows, int T, int S, int F, int gen_flags) {
  __shared__ int row_length[MASK_ROWS];
  int r = blockIdx.x * MASK_ROWS + threadIdx.y, lane = threadIdx.x;
  int first = T;
  if (gen_flags && r < rows)
    for (int t = lane; t < T; t += 32) {
      const float *v = y + ((size_t)(t / S) * rows + r) * S * F + (size_t)(t % S) * F;
      if (v[F - 1] > v[F - 2]) {
        first = t;
        break;
      }
    }
  for (int o = 16; o > 0; o /= 2) first = min(first, __shfl_down_sync(0xffffffffu, first, o));
  if (lane == 0) row_length[threadIdx.y] = first < T ? first + 1 : T;
  __syncthreads();
  if (r >= rows) return;
  int length = row_length[threadIdx.y];
  if (lane == 0) lengths[r] = length;
  for (int t = lane; t < T; t += 32) mask[(size_t)r * T + t] = t < length ? 1.0f : 0.0f;
}

/* Fake rows [masked features t-major, A, M] into X (row stride ldx). zero_pad: write +0 after the end. */
__global__ void k_fake_rows(float *X, int ldx, const float *y, const float *mask, const float *A, const float *M, int rows, int T, int S, int F, int Ad,
                            int Md, int zero_pad) {
  int w = T * F + Ad + Md;
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)rows * w) return;
  int r = (int)(i / w), k = (int)(i % w);
  float v;
  if (k < T * F) {
    int t = k / F, f = k % F;
    float mk = mask[(size_t)r * T + t];
    float yv = y[((size_t)(t / S) * rows + r) * S * F + (size_t)(t % S) * F + f];
    v = zero_pad ? (mk != 0.0f ? yv : 0.0f) : yv * mk;
  } else if (k < T * F + Ad) {
    v = A[(size_t)r * Ad + k - T * F];
  } else {
    v = M[(size_t)r * Md + k - T * F - Ad];
  }
  X[(size_t)r * ldx + k] = v;
}

/* k_fake_rows (zero_pad off) for pairs: X row r gets series partner[r] of a generator pass over gen_rows. */
__global__ void k_fake_rows_paired(float *X, int ldx, const float *y, const float *mask, const float *A, const float *M, const int32_t *partner, int rows,
                                   int gen_rows, int T, int S, int F, int Ad, int Md) {
  int w = T * F + Ad + Md;
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)rows * w) return;
  int x_row = (int)(i / w), k = (int)(i % w), r = partner[x_row];
  float v;
  if (k < T * F) {
    int t = k / F, f = k % F;
    v = y[((size_t)(t / S) * gen_rows + r) * S * F + (size_t)(t % S) * F + f] * mask[(size_t)r * T + t];
  } else if (k < T * F + Ad) {
    v = A[(size_t)r * Ad + k - T * F];
  } else {
    v = M[(size_t)r * Md + k - T * F - Ad];
  }
  X[(size_t)x_row * ldx + k] = v;
}

/* Real rows [features, attributes, additional] into X. */
__global__ void k_real_rows(float *X, int ldx, const float *feat, const float *A, const float *M, int rows, int TF, int Ad, int Md) {
  int w = TF + Ad + Md;
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)rows * w) return;
  int r = (int)(i / w), k = (int)(i % w);
  X[(size_t)r * ldx + k] = k < TF ? feat[(size_t)r * TF + k] : k < TF + Ad ? A[(size_t)r * Ad + k - TF] : M[(size_t)r * Md + k - TF - Ad];
}

/* x_hat rows [2B, 3B) = a R + (1 - a) G. */
__global__ void k_interpolate(float *X, int B, int w, const float *a) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)B * w) return;
  int b = (int)(i / w), k = (int)(i % w);
  float ab = a[b];
  X[(size_t)(2 * B + b) * w + k] = ab * X[(size_t)b * w + k] + (1.0f - ab) * X[(size_t)(B + b) * w + k];
}

/* D = act W_out + b_out, one warp per row. */
__global__ void k_critic_out(float *out, const float *act, const float *w, const float *b, int rows, int width) {
  int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
  if (warp >= rows) return;
  float s = 0.0f;
  for (int k = lane; k < width; k += 32) s += act[(size_t)warp * width + k] * w[k];
  for (int o = 16; o > 0; o /= 2) s += __shfl_down_sync(0xffffffffu, s, o);
  if (lane == 0) out[warp] = s + b[0];
}

/* Row coefficients: the critic step's [-1/B (real), 1/B (fake), 1 (x_hat)], or a constant c for all. */
__global__ void k_dout(float *dout, int B, int critic_step, float c) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (critic_step) {
    if (i < 3 * B) dout[i] = i < B ? -1.0f / B : i < 2 * B ? 1.0f / B : 1.0f;
  } else if (i < B) {
    dout[i] = c;
  }
}

/* delta_L = dout[r] * w_out masked by act > 0. */
__global__ void k_delta_last(float *delta, const float *act, const float *dout, const float *w, int rows, int width) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)rows * width) return;
  int r = (int)(i / width), k = (int)(i % width);
  delta[i] = act[i] > 0.0f ? dout[r] * w[k] : 0.0f;
}

__global__ void k_relu_mask(float *dst, const float *src, const float *act, long n) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i < n) dst[i] = act[i] > 0.0f ? src[i] : 0.0f;
}

/* g[r, :] = dout[r] * w_out (a critic without hidden layers). */
__global__ void k_input_grad_linear(float *g, const float *dout, int first, const float *w, int rows, int width) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)rows * width) return;
  g[i] = dout[first + i / width] * w[i % width];
}

/* Per-example norms of g [B, w0]: u0 (over the x_hat rows of act0) = dgp/dg; gp summed into acc. One
 * block per example. */
__global__ void k_gradient_penalty(float *u0, const float *g, int B, int w0, float lambda, double *gp_sum) {
  __shared__ double part[256];
  int b = blockIdx.x;
  const float *gb = g + (size_t)b * w0;
  double q = 0.0;
  for (int k = threadIdx.x; k < w0; k += blockDim.x) q += (double)gb[k] * gb[k];
  part[threadIdx.x] = q;
  __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  q = part[0];
  double norm = sqrt(q > 1e-24 ? q : 1e-24);
  float coef = q > 1e-24 ? (float)(2.0 * lambda * (norm - 1.0) / norm / B) : 0.0f;
  for (int k = threadIdx.x; k < w0; k += blockDim.x) u0[(size_t)b * w0 + k] = coef * gb[k];
  if (threadIdx.x == 0) atomicAdd(gp_sum, (norm - 1.0) * (norm - 1.0));
}

/* out[blockIdx.y, c] (+)= sum of x[r, c] over the block's chunk of rows [blockIdx.y chunk, ...): column
 * blocks, one chunk per blockIdx.y (see colsum()). */
__global__ void k_colsum(float *out, const float *x, long rows, int cols, long chunk, int accumulate) {
  int c = blockIdx.x * COL_X + threadIdx.x;
  long r0 = blockIdx.y * chunk, r1 = min(rows, r0 + chunk);
  double s = column_sum(x, cols, r0, r1, c, cols, NULL);
  if (threadIdx.y == 0 && c < cols) {
    float *o = out + (size_t)blockIdx.y * cols + c;
    *o = (float)(accumulate ? *o + s : s);
  }
}

/* db[c] = (sum of fake rows [B, 2B)) + (sum of real rows [0, B)) of x[r, c], each summed by the same
 * tree, like the reference forms them (it differentiates D(R) and D(G) separately): WGAN bias
 * gradients that are zero in exact arithmetic (the output bias, a unit active on every row) have real
 * and fake terms exactly opposite, so the two sums cancel exactly instead of leaving rounding noise
 * that Adam's first step would turn into a full +-lr step. Column blocks. */
__global__ void k_colsum_real_fake(float *db, const float *x, int B, int cols) {
  int c = blockIdx.x * COL_X + threadIdx.x;
  double fake = column_sum(x, cols, B, 2 * B, c, cols, NULL), real = column_sum(x, cols, 0, B, c, cols, NULL);
  if (threadIdx.y == 0 && c < cols) db[c] = (float)(fake + real);
}

/* The output layer's gradients: dw[k] = sum_r dout[r] act[r, k] (all 3B rows); db = the real and fake
 * rows' coefficients summed as k_colsum_real_fake does (block 0). Column blocks. */
__global__ void k_out_grads(float *dw, float *db, const float *act, const float *dout, int B, int width) {
  int k = blockIdx.x * COL_X + threadIdx.x;
  double s = column_sum(act, width, 0, 3 * B, k, width, dout);
  if (threadIdx.y == 0 && k < width) dw[k] = (float)s;
  if (blockIdx.x == 0) {
    double fake = column_sum(dout, 1, B, 2 * B, threadIdx.x, 1, NULL), real = column_sum(dout, 1, 0, B, threadIdx.x, 1, NULL);
    if (threadIdx.x == 0 && threadIdx.y == 0) db[0] = (float)(fake + real);
  }
}

/* Means of D over row ranges into stats[slot] (double): one block. */
__global__ void k_mean(double *stats, int slot, const float *x, int first, int n) {
  __shared__ double part[256];
  double s = 0.0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += x[first + i];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if (threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) stats[slot] = part[0] / n;
}

/* stats: [0] mean D(real), [1] mean D(fake), [2] gp sum, [3..5] the same for aux, [6] mean D(G) in the
 * generator step, [7] mean D_a(G). losses: StepLosses order. */
__global__ void k_losses(float *losses, const double *stats, int B, float lambda, float alpha, int has_aux, int phase) {
  if (phase == 0) {
    double gp = stats[2] / B;
    losses[0] = (float)(stats[1] - stats[0] + lambda * gp);
    losses[2] = (float)gp;
    losses[5] = (float)(stats[0] - stats[1]);
    double gpa = stats[5] / B;
    losses[1] = has_aux ? (float)(stats[4] - stats[3] + lambda * gpa) : 0.0f;
    losses[3] = has_aux ? (float)gpa : 0.0f;
  } else {
    losses[4] = (float)(-stats[6] - (has_aux ? alpha * stats[7] : 0.0));
  }
}

__global__ void k_zero_double(double *x, int n) {
  int i = threadIdx.x;
  if (i < n) x[i] = 0.0;
}

__global__ void k_adam(float *p, const float *g, float *m, float *v, long n, float lr, float b1, float b2, const int64_t *step) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= n) return;
  double t = (double)*step;
  float c1 = (float)(1.0 - pow((double)b1, t)), c2 = (float)(1.0 - pow((double)b2, t));
  float gi = g[i];
  float mi = b1 * m[i] + (1.0f - b1) * gi;
  float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
  m[i] = mi;
  v[i] = vi;
  p[i] -= lr * (mi / c1) / (sqrtf(vi / c2) + 1e-8f);
}

/* Generator backward glue: dA, dM from both critics' input gradients; dY through the mask into the
 * heads' [step * rows, S*F] layout. */
__global__ void k_gen_dA_dM(float *dA, float *dM, const float *dmain, int ldm, const float *daux, int lda, int rows, int TF, int Ad, int Md) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  int w = Ad + Md;
  if (i >= (long)rows * w) return;
  int r = (int)(i / w), k = (int)(i % w);
  float v = dmain[(size_t)r * ldm + TF + k] + (daux ? daux[(size_t)r * lda + k] : 0.0f);
  if (k < Ad)
    dA[(size_t)r * Ad + k] = v;
  else
    dM[(size_t)r * Md + k - Ad] = v;
}

__global__ void k_gen_dy(float *dy, const float *dmain, int ldm, const float *mask, int rows, int T, int S, int F) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)rows * T * F) return;
  int r = (int)(i / (T * F)), k = (int)(i % (T * F)), t = k / F, f = k % F;
  dy[((size_t)(t / S) * rows + r) * S * F + (size_t)(t % S) * F + f] = dmain[(size_t)r * ldm + k] * mask[(size_t)r * T + t];
}

/* From the last step to the first, as dg_lstm_backward sums dgsum (bit-identical order). */
__global__ void k_sum_steps(float *out, const float *x, int steps, long n) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= n) return;
  float s = 0.0f;
  for (int j = steps - 1; j >= 0; j--) s += x[(size_t)j * n + i];
  out[i] = s;
}

/* Kh^T [4H, H] from the h rows of the LSTM kernel (for global-memory BPTT). */
__global__ void k_transpose_kh(float *khT, const float *Kh, int H) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i >= (long)4 * H * H) return;
  int col = (int)(i / H), u = (int)(i % H);
  khT[i] = Kh[(size_t)u * 4 * H + col];
}

/* ---------------------------------------------------------------- DP-SGD: per-example clipping */

/* One critic's rows as dg_layers.c's DP code sees them (passed by value to the kernels). */
typedef struct {
  float *act[DG_MAX_LAYERS + 1], *delta[DG_MAX_LAYERS + 1];
  int width[DG_MAX_LAYERS + 1];
  int n_hidden;
} critic_rows;

#define NORM_THREADS 128

/* The Gram entries {00, 11, 22, 01, 02, 12} of three rows, in double, into out (every thread gets them). */
__device__ void gram3_block(const float *x0, const float *x1, const float *x2, int n, double *part, double out[6]) {
  double s[6] = {0.0, 0.0, 0.0, 0.0, 0.0, 0.0};
  for (int k = threadIdx.x; k < n; k += NORM_THREADS) {
    double a = x0[k], b = x1[k], c = x2[k];
    s[0] += a * a, s[1] += b * b, s[2] += c * c, s[3] += a * b, s[4] += a * c, s[5] += b * c;
  }
  for (int i = 0; i < 6; i++) part[i * NORM_THREADS + threadIdx.x] = s[i];
  __syncthreads();
  for (int h = NORM_THREADS / 2; h > 0; h /= 2) {
    if (threadIdx.x < h)
      for (int i = 0; i < 6; i++) part[i * NORM_THREADS + threadIdx.x] += part[i * NORM_THREADS + threadIdx.x + h];
    __syncthreads();
  }
  for (int i = 0; i < 6; i++) out[i] = part[i * NORM_THREADS];
  __syncthreads(); /* part is reused by the next call */
}

__device__ double gram_product(const double a[6], const double d[6]) {
  return a[0] * d[0] + a[1] * d[1] + a[2] * d[2] + 2.0 * (a[3] * d[3] + a[4] * d[4] + a[5] * d[5]);
}

/* Example b's gradient norm (dg_layers.c, example_norm_task: the 3x3 Gram trick over its real, fake and
 * x_hat rows), one block of NORM_THREADS per example. */
__global__ void k_example_norms(float *ex_norm, critic_rows c, const float *dout, int B) {
  __shared__ double part[6 * NORM_THREADS];
  int b = blockIdx.x, L = c.n_hidden;
  double sq = 0.0, ga[6], gd[6];
  for (int l = 0; l < L; l++) {
    int wa = c.width[l], wd = c.width[l + 1];
    const float *a = c.act[l], *d = c.delta[l + 1];
    gram3_block(a + (size_t)b * wa, a + (size_t)(B + b) * wa, a + (size_t)(2 * B + b) * wa, wa, part, ga);
    gram3_block(d + (size_t)b * wd, d + (size_t)(B + b) * wd, d + (size_t)(2 * B + b) * wd, wd, part, gd);
    sq += gram_product(ga, gd);
    sq += gd[0] + gd[1] + 2.0 * gd[3]; /* bias: |delta_R + delta_F|^2 */
  }
  int w = c.width[L];
  const float *a = c.act[L];
  gram3_block(a + (size_t)b * w, a + (size_t)(B + b) * w, a + (size_t)(2 * B + b) * w, w, part, ga);
  double cr = dout[b], cf = dout[B + b], cx = dout[2 * B + b];
  gd[0] = cr * cr, gd[1] = cf * cf, gd[2] = cx * cx, gd[3] = cr * cf, gd[4] = cr * cx, gd[5] = cf * cx;
  sq += gram_product(ga, gd);
  sq += (cr + cf) * (cr + cf);
  if (threadIdx.x == 0) ex_norm[b] = (float)((double)B * sqrt(sq > 0.0 ? sq : 0.0));
}

/* Clip factors (only norms strictly above C change, as in dg_layers.c's clip_examples) and the
 * statistics {mean norm, clipped fraction}: one block of 256 threads (the sum's order differs from the
 * CPU core's; it is in double, so the float statistics agree). */
__global__ void k_clip_factors(float *clip, float *stats, const float *ex_norm, int B, float C) {
  __shared__ double part_sum[256];
  __shared__ int part_clipped[256];
  double sum = 0.0;
  int clipped = 0;
  for (int b = threadIdx.x; b < B; b += blockDim.x) {
    float norm = ex_norm[b];
    sum += norm;
    clipped += norm > C;
    clip[b] = norm > C ? C / norm : 1.0f;
  }
  part_sum[threadIdx.x] = sum;
  part_clipped[threadIdx.x] = clipped;
  __syncthreads();
  for (int h = blockDim.x / 2; h > 0; h /= 2) {
    if (threadIdx.x < h) {
      part_sum[threadIdx.x] += part_sum[threadIdx.x + h];
      part_clipped[threadIdx.x] += part_clipped[threadIdx.x + h];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    stats[0] = (float)(part_sum[0] / B);
    stats[1] = (float)((double)part_clipped[0] / B);
  }
}

/* Example b's rows scaled by clip[b] where they enter the weight gradients (dg_layers.c,
 * scale_example_rows): real and fake deltas and row coefficients, penalty rows u_l. One block per example. */
__global__ void k_scale_example_rows(critic_rows c, float *dout, const float *clip, int B) {
  int b = blockIdx.x;
  float f = clip[b];
  if (f == 1.0f) return;
  for (int l = 1; l <= c.n_hidden; l++) {
    int w = c.width[l];
    float *dr = c.delta[l] + (size_t)b * w, *df = c.delta[l] + (size_t)(B + b) * w;
    for (int k = threadIdx.x; k < w; k += blockDim.x) dr[k] *= f, df[k] *= f;
  }
  for (int l = 0; l <= c.n_hidden; l++) {
    int w = c.width[l];
    float *u = c.act[l] + (size_t)(2 * B + b) * w;
    for (int k = threadIdx.x; k < w; k += blockDim.x) u[k] *= f;
  }
  if (threadIdx.x == 0) {
    dout[b] *= f;
    dout[B + b] *= f;
  }
}

__global__ void k_add_scaled(float *x, const float *y, float scale, long n) {
  long i = blockIdx.x * (long)blockDim.x + threadIdx.x;
  if (i < n) x[i] += scale * y[i];
}

/* ---------------------------------------------------------------- persistent LSTM kernels */

#define LSTM_MAX_ROWS 8 /* batch rows per block */

/* The products read shared memory, whose bandwidth bounds them: each weight once per step for all of
 * a block's rows (in a register), the rows' inputs 4 at a time (one 16-byte broadcast load per row,
 * hence rows padded to a multiple of 4 floats), summed in the same order as one at a time. */
__host__ __device__ static inline int padded4(int n) { return (n + 3) & ~3; }
__device__ __forceinline__ float4 load_float4(const float *p) { return *reinterpret_cast<const float4 *>(p); }

/* acc[r] += rows[r * stride + 0..3] . (w0, w1, w2, w3), in that order, for the block's nr rows (in shared
 * memory, 16-byte aligned): the 4-wide step of both LSTM kernels' recurrent products. */
__device__ __forceinline__ void accumulate4(float acc[LSTM_MAX_ROWS], const float *rows, int stride, int nr, float w0, float w1, float w2, float w3) {
#pragma unroll
  for (int r = 0; r < LSTM_MAX_ROWS; r++)
    if (r < nr) {
      float4 x = load_float4(rows + r * stride);
      acc[r] += x.x * w0;
      acc[r] += x.y * w1;
      acc[r] += x.z * w2;
      acc[r] += x.w * w3;
    }
}

/* One thread per gate column (a warp's multiple) up to LSTM_MAX_THREADS, which __launch_bounds__ makes
 * the compiler fit in registers (at 1024 threads a kernel over 64 registers per thread fails to launch). */
#define LSTM_MAX_THREADS 512
static inline int lstm_threads(int H) {
  int t = (4 * H + 31) / 32 * 32;
  return t < LSTM_MAX_THREADS ? t : LSTM_MAX_THREADS;
}

/* Forward over all steps. Block b owns rows [b R, b R + R). Shared memory: [K (when it fits)] x [R][ld
 * padded to 4] gates [R][4H] c [R][H]. gates (global) receives the activated gates, c and tanh(c) per
 * step, h_j goes into xh block j + 1 after the z part. */
__global__ void __launch_bounds__(LSTM_MAX_THREADS)
    k_lstm_forward(float *gates, float *xh, const float *base, const float *K, float *c, float *tc, int steps, int rows, int nx, int H, int R,
                   int k_in_shared) {
  extern __shared__ float sm[];
  int ld = nx + H, lds = padded4(ld), G = 4 * H;
  float *Ks = sm, *xs = sm + (k_in_shared ? (size_t)ld * G : 0), *gs = xs + R * lds, *cs = gs + R * G;
  const float *Kp = k_in_shared ? Ks : K;
  int r0 = blockIdx.x * R, nr = min(R, rows - r0);
  if (nr <= 0) return;
  if (k_in_shared)
    for (int i = threadIdx.x; i < ld * G; i += blockDim.x) Ks[i] = K[i];
  for (int i = threadIdx.x; i < R * lds; i += blockDim.x) xs[i] = 0.0f;
  for (int i = threadIdx.x; i < R * H; i += blockDim.x) cs[i] = 0.0f;
  /* h_{-1} = 0 in xh block 0 (dg_lstm_forward zeroes it too): the dK product reads blocks 0..steps-1
   * whole, and an earlier pass over fewer rows (a smaller batch, a small generation) leaves its h_j in
   * what is now block 0 of the arena. */
  for (int i = threadIdx.x; i < nr * H; i += blockDim.x) xh[(size_t)(r0 + i / H) * ld + nx + i % H] = 0.0f;
  __syncthreads();
  /* Step j's noise inputs z_j come from global memory. When each thread has at most one (nr nx <=
   * threads, the usual case), step j + 1's is loaded during step j's products, off the critical path. */
  int one_z = nr * nx <= (int)blockDim.x, zr = threadIdx.x / max(nx, 1), zd = threadIdx.x % max(nx, 1);
  int has_z = one_z && (int)threadIdx.x < nr * nx;
  float z_next = has_z ? xh[((size_t)r0 + zr) * ld + zd] : 0.0f;
  for (int j = 0; j < steps; j++) {
    if (one_z) {
      if (has_z) xs[zr * lds + zd] = z_next;
    } else {
      for (int i = threadIdx.x; i < nr * nx; i += blockDim.x) {
        int r = i / nx, d = i % nx;
        xs[r * lds + d] = xh[((size_t)j * rows + r0 + r) * ld + d];
      }
    }
    __syncthreads();
    if (has_z && j + 1 < steps) z_next = xh[((size_t)(j + 1) * rows + r0 + zr) * ld + zd];
    for (int col = threadIdx.x; col < G; col += blockDim.x) {
      float acc[LSTM_MAX_ROWS];
#pragma unroll
      for (int r = 0; r < LSTM_MAX_ROWS; r++) acc[r] = r < nr ? base[(size_t)(r0 + r) * G + col] : 0.0f;
      int k = 0;
      for (; k + 4 <= ld; k += 4) {
        accumulate4(acc, xs + k, lds, nr, Kp[(size_t)k * G + col], Kp[(size_t)(k + 1) * G + col], Kp[(size_t)(k + 2) * G + col], Kp[(size_t)(k + 3) * G + col]);
      }
      for (; k < ld; k++) {
        float kv = Kp[(size_t)k * G + col];
#pragma unroll
        for (int r = 0; r < LSTM_MAX_ROWS; r++)
          if (r < nr) acc[r] += xs[r * lds + k] * kv;
      }
#pragma unroll
      for (int r = 0; r < LSTM_MAX_ROWS; r++)
        if (r < nr) gs[r * G + col] = acc[r];
    }
    __syncthreads();
    for (int i = threadIdx.x; i < nr * H; i += blockDim.x) {
      int r = i / H, u = i % H;
      const float *g = gs + r * G;
      float ig = sigmoidf_(g[u]), fg = sigmoidf_(g[H + u]), gg = tanhf_(g[2 * H + u]), og = sigmoidf_(g[3 * H + u]);
      float cn = fg * cs[r * H + u] + ig * gg, t = tanhf_(cn), h = og * t;
      size_t row = (size_t)j * rows + r0 + r;
      float *gg_out = gates + row * G;
      gg_out[u] = ig;
      gg_out[H + u] = fg;
      gg_out[2 * H + u] = gg;
      gg_out[3 * H + u] = og;
      c[row * H + u] = cn;
      tc[row * H + u] = t;
      xh[((size_t)(j + 1) * rows + r0 + r) * ld + nx + u] = h;
      xs[r * lds + nx + u] = h;
      cs[r * H + u] = cn;
    }
    __syncthreads();
  }
}

/* What BPTT step j reads from global memory for row r (of the block's), unit u. */
typedef struct {
  float ig, fg, gv, og, t, cp, dh;
} bptt_inputs;

__device__ __forceinline__ bptt_inputs bptt_load(const float *gates, const float *c, const float *tc, const float *dh, int j, int rows, int row0, int H) {
  size_t row = (size_t)j * rows + row0;
  const float *g = gates + row * 4 * H;
  bptt_inputs x = {g[0], g[H], g[2 * H], g[3 * H], tc[row * H], j > 0 ? c[((size_t)(j - 1) * rows + row0) * H] : 0.0f, dh[row * H]};
  return x;
}

/* BPTT step j for row r, unit u: d(pre-activation gates) into gates (global) and dgs, the carried
 * d(c) into dcs. dhr holds the recurrent d(h) from step j + 1. */
__device__ __forceinline__ void bptt_cell(const bptt_inputs &x, float *gates, float *dgs, const float *dhr, float *dcs, int j, int rows, int r0, int r,
                                          int u, int H) {
  int G = 4 * H;
  float dht = x.dh + dhr[r * H + u];
  float dct = dcs[r * H + u] + dht * x.og * (1.0f - x.t * x.t);
  float di = dct * x.gv * x.ig * (1.0f - x.ig), df = dct * x.cp * x.fg * (1.0f - x.fg), dg = dct * x.ig * (1.0f - x.gv * x.gv),
        dO = dht * x.t * x.og * (1.0f - x.og);
  float *g = gates + ((size_t)j * rows + r0 + r) * G;
  g[u] = di;
  g[H + u] = df;
  g[2 * H + u] = dg;
  g[3 * H + u] = dO;
  float *d = dgs + r * G;
  d[u] = di;
  d[H + u] = df;
  d[2 * H + u] = dg;
  d[3 * H + u] = dO;
  dcs[r * H + u] = dct * x.fg;
}

#define BPTT_PREFETCH 2 /* (row, unit) items per thread whose next step's inputs are loaded ahead */

/* BPTT over all steps, rows split as in the forward. gates holds the activations on entry and
 * d(pre-activation gates) on exit. khT: [4H][H] (in shared memory when it fits). When each thread has
 * at most BPTT_PREFETCH items (nr H <= 2 x 416 for H = 100: every batch size), step j - 1's inputs are
 * loaded while step j's recurrent product runs. */
__global__ void __launch_bounds__(LSTM_MAX_THREADS)
    k_lstm_backward(float *gates, const float *c, const float *tc, const float *dh, const float *khT_global, int steps, int rows, int H, int R, int k_in_shared) {
  extern __shared__ float sm[];
  int G = 4 * H;
  float *Ks = sm, *dgs = sm + (k_in_shared ? (size_t)G * H : 0), *dhr = dgs + R * G, *dcs = dhr + R * H;
  const float *Kp = k_in_shared ? Ks : khT_global;
  int r0 = blockIdx.x * R, nr = min(R, rows - r0);
  if (nr <= 0) return;
  if (k_in_shared)
    for (int i = threadIdx.x; i < G * H; i += blockDim.x) Ks[i] = khT_global[i];
  for (int i = threadIdx.x; i < R * H; i += blockDim.x) dhr[i] = dcs[i] = 0.0f;
  int items = nr * H, prefetch = items <= BPTT_PREFETCH * (int)blockDim.x;
  bptt_inputs next[BPTT_PREFETCH];
#pragma unroll
  for (int k = 0; k < BPTT_PREFETCH; k++) {
    int i = threadIdx.x + k * blockDim.x;
    if (prefetch && i < items) next[k] = bptt_load(gates + i % H, c + i % H, tc + i % H, dh + i % H, steps - 1, rows, r0 + i / H, H);
  }
  __syncthreads();
  for (int j = steps - 1; j >= 0; j--) {
    if (prefetch) {
#pragma unroll
      for (int k = 0; k < BPTT_PREFETCH; k++) {
        int i = threadIdx.x + k * blockDim.x;
        if (i < items) bptt_cell(next[k], gates, dgs, dhr, dcs, j, rows, r0, i / H, i % H, H);
      }
    } else {
      for (int i = threadIdx.x; i < items; i += blockDim.x)
        bptt_cell(bptt_load(gates + i % H, c + i % H, tc + i % H, dh + i % H, j, rows, r0 + i / H, H), gates, dgs, dhr, dcs, j, rows, r0, i / H, i % H, H);
    }
    __syncthreads();
    if (prefetch && j > 0)
#pragma unroll
      for (int k = 0; k < BPTT_PREFETCH; k++) {
        int i = threadIdx.x + k * blockDim.x;
        if (i < items) next[k] = bptt_load(gates + i % H, c + i % H, tc + i % H, dh + i % H, j - 1, rows, r0 + i / H, H);
      }
    if (j > 0)
      for (int u = threadIdx.x; u < H; u += blockDim.x) {
        float s[LSTM_MAX_ROWS];
#pragma unroll
        for (int r = 0; r < LSTM_MAX_ROWS; r++) s[r] = 0.0f;
        for (int col = 0; col < G; col += 4) /* G = 4H */
          accumulate4(s, dgs + col, G, nr, Kp[(size_t)col * H + u], Kp[(size_t)(col + 1) * H + u], Kp[(size_t)(col + 2) * H + u], Kp[(size_t)(col + 3) * H + u]);
#pragma unroll
        for (int r = 0; r < LSTM_MAX_ROWS; r++)
          if (r < nr) dhr[r * H + u] = s[r];
      }
    __syncthreads();
  }
}

/* ---------------------------------------------------------------- the model */

typedef struct {
  int n_seg;
  int *offset, *dim, *act; /* device arrays */
  int width;
} heads_desc;

typedef struct {
  float *input, *xhat[DG_MAX_LAYERS], *act[DG_MAX_LAYERS], *invstd[DG_MAX_LAYERS], *out;
} mlp_ws;

typedef struct {
  float *act[DG_MAX_LAYERS + 1], *delta[DG_MAX_LAYERS + 1], *out, *dout, *g, *tmp;
  float *ex_norm, *clip; /* DP-SGD: per-example gradient norms and clip factors */
} critic_ws;

struct dg_cuda {
  dg_model *host;
  dg_layout L;
  cudaStream_t stream;
  cublasHandle_t blas;
  void *blas_workspace;
  int use_graphs;
  cudaGraphExec_t graph;
  int graph_rows, graph_batches;
  int warm_rows;   /* an eager iteration at this batch size ran: cuBLAS's lazy setup is done, capture is safe */
  int capturing;   /* inside cudaStreamBeginCapture .. EndCapture */
  int blas_status; /* the first failing cublasSgemm's status (0: none), reported after the next sync */
  /* DG_CUDA_DEBUG=1: eager runs synchronize after each stage and name the first that failed */
  int debug;
  const char *debug_stage;
  cudaError_t debug_error;
  /* DG_CUDA_PROFILE=1: eager runs, each stage waited for and timed; the table goes to stderr when the
   * model is destroyed (test_dg_cuda --bench prints one for the GPU session) */
  int profile, profile_stages;
  long profile_iterations;
  double profile_mark;
  struct {
    const char *name;
    double ms;
    long calls;
  } profile_table[32];

  float *P, *G, *M, *V, *Bf; /* parameters, gradients, Adam m/v, buffers */
  uint64_t *position;
  int64_t *step; /* [3] */
  double *stats; /* [8] */
  float *losses; /* [10]: StepLosses order, then DP's {norm, clipped fraction} for the main and aux critic */
  uint64_t host_position;
  int64_t host_step[3];

  heads_desc attr_heads, add_heads, feat_heads;
  int lstm_smem_fwd, lstm_smem_bwd, lstm_k_shared_fwd, lstm_k_shared_bwd;

  /* workspaces for `capacity` rows (critic: 3 x capacity) */
  int capacity;
  void *arena;
  float *xh, *base, *gates, *c, *tc, *y, *mask, *xam, *dy, *dh, *dgsum, *dA, *dM, *d1, *d2, *khT, *a_main, *a_aux;
  int32_t *partner; /* DP-SGD on Poisson batches: each real example's fake series (k_pair_examples) */
  float *colsum_partial; /* colsum()'s per-chunk sums */
  int32_t *lengths;
  mlp_ws attr, minmax;
  critic_ws main_ws, aux_ws;
  float *batch[16][3];
  /* [critic steps][batch_capacity]: row numbers of the held training set, or (DP-SGD on Poisson
   * batches) the uploaded batches' training-set row ids; step s's B at batch_rows + s B */
  int32_t *batch_rows;
  int batch_capacity;
  /* dg_cuda_hold_training_data: the training set on the device */
  float *held[3];
  int held_n;
  /* generation outputs staged on the device */
  float *gen_features;
  /* DP-SGD noise, N(0, 1) per coordinate for every critic step and both critics, drawn on the host from
   * the OS's secure randomness (dg_dp.c) and copied to dp_noise, which the iteration adds scaled by
   * sigma C / B. Two host buffers: the next iteration's noise is drawn while the GPU runs this one. */
  float *dp_noise, *dp_noise_host[2];
  int dp_noise_pinned;                 /* the host buffers are page-locked (cudaMallocHost): uploads are plain DMA */
  cudaEvent_t dp_noise_uploaded[2];    /* recorded after each buffer's upload: it is rewritten only after that */
  int dp_next, dp_next_ready;
  size_t dp_noise_floats;
  dg_pool *dp_pool;
};

static void gemm(dg_cuda *g, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb, float beta, float *C,
                 int ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) { /* C = beta C, row by row */
    for (int r = 0; r < M; r++) k_scale<<<blocks_for(N, 256), 256, 0, g->stream>>>(C + (size_t)r * ldc, N, beta);
    return;
  }
  cublasStatus_t st = cublas.sgemm(g->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B, ldb, A, lda, &beta, C, ldc);
  if (st != 0 && !g->blas_status) g->blas_status = st;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* DG_CUDA_PROFILE: the time since the previous mark, waited for, goes to the stage's row. */
static void profile_mark(dg_cuda *g, const char *name) {
  cudaStreamSynchronize(g->stream);
  double t = now_ms();
  if (name) {
    int i = 0;
    while (i < g->profile_stages && g->profile_table[i].name != name) i++;
    if (i == g->profile_stages && i < 32) g->profile_table[g->profile_stages++] = {name, 0.0, 0};
    if (i < 32) g->profile_table[i].ms += t - g->profile_mark, g->profile_table[i].calls++;
  }
  g->profile_mark = t;
}

static void profile_report(const dg_cuda *g) {
  double total = 0.0;
  for (int i = 0; i < g->profile_stages; i++) total += g->profile_table[i].ms;
  long n = g->profile_iterations > 0 ? g->profile_iterations : 1;
  fprintf(stderr, "DG_CUDA_PROFILE: %ld iterations, stages waited for one by one (ms per iteration, share, calls per iteration)\n", n);
  for (int i = 0; i < g->profile_stages; i++)
    fprintf(stderr, "  %-55s %8.3f  %5.1f%%  %4.1f\n", g->profile_table[i].name, g->profile_table[i].ms / n, 100.0 * g->profile_table[i].ms / total,
            (double)g->profile_table[i].calls / n);
}

/* DG_CUDA_DEBUG: after a stage of an eager run, wait for it and remember the first stage that failed
 * (a bad launch, an illegal address, a cuBLAS error), so the error names where it happened. */
static void stage(dg_cuda *g, const char *name) {
  if (g->profile && !g->capturing) profile_mark(g, name);
  if (!g->debug || g->capturing || g->debug_stage) return;
  cudaError_t e = cudaStreamSynchronize(g->stream);
  if (e == cudaSuccess) e = cudaGetLastError();
  if (e != cudaSuccess || g->blas_status) {
    g->debug_stage = name;
    g->debug_error = e;
  }
}

/* After a synchronized run: DG_OK, or the first cuBLAS / debug-stage failure (then forgotten). */
static int run_errors(dg_cuda *g, const char *what) {
  int rc = DG_OK;
  if (g->debug_stage)
    rc = dg_fail(DG_ERR_CONFIG, "%s failed at stage '%s': %s%s", what, g->debug_stage, g->debug_error != cudaSuccess ? cudaGetErrorString(g->debug_error) : "",
                 g->blas_status ? " (a cublasSgemm call failed)" : "");
  else if (g->blas_status)
    rc = dg_fail(DG_ERR_CONFIG, "%s: cublasSgemm failed with status %d", what, g->blas_status);
  g->debug_stage = NULL;
  g->debug_error = cudaSuccess;
  g->blas_status = 0;
  return rc;
}

static int upload_heads(heads_desc *h, const dg_var *vars, int n_vars, int groups) {
  int n = n_vars * groups;
  int *offset = (int *)malloc(sizeof(int) * (n + 1) * 3);
  if (!offset) return dg_fail(DG_ERR_ALLOC, "out of memory");
  int *dim = offset + n + 1, *act = dim + n + 1, o = 0;
  for (int gr = 0; gr < groups; gr++)
    for (int v = 0; v < n_vars; v++) {
      int s = gr * n_vars + v;
      offset[s] = o;
      dim[s] = vars[v].dim;
      act[s] = vars[v].activation;
      o += vars[v].dim;
    }
  h->n_seg = n;
  h->width = o;
  int rc = DG_OK;
  if (cudaMalloc((void **)&h->offset, sizeof(int) * (n + 1) * 3) != cudaSuccess) rc = dg_fail(DG_ERR_ALLOC, "cudaMalloc failed for head descriptors");
  if (!rc) {
    h->dim = h->offset + n + 1;
    h->act = h->dim + n + 1;
    if (cudaMemcpy(h->offset, offset, sizeof(int) * (n + 1) * 3, cudaMemcpyHostToDevice) != cudaSuccess) rc = dg_fail(DG_ERR_CONFIG, "cudaMemcpy failed");
  }
  free(offset);
  return rc;
}

static void heads_forward(dg_cuda *g, const heads_desc *h, float *x, int rows) {
  if (h->n_seg == 0 || rows == 0) return;
  k_heads_forward<<<blocks_for((long)rows * h->n_seg, 256), 256, 0, g->stream>>>(x, rows, h->width, h->n_seg, h->offset, h->dim, h->act);
}

static void heads_backward(dg_cuda *g, const heads_desc *h, float *dx, const float *y, int rows) {
  if (h->n_seg == 0 || rows == 0) return;
  k_heads_backward<<<blocks_for((long)rows * h->n_seg, 256), 256, 0, g->stream>>>(dx, y, rows, h->width, h->n_seg, h->offset, h->dim, h->act);
}

/* ---------------------------------------------------------------- workspace */

typedef struct {
  char *base;
  size_t used;
} arena;

static float *take(arena *a, size_t floats) {
  size_t bytes = (floats * sizeof(float) + 255) / 256 * 256;
  float *p = a->base ? (float *)(a->base + a->used) : NULL;
  a->used += bytes;
  return p;
}

static int max_of(const int *w, int n, int floor) {
  int m = floor;
  for (int i = 0; i < n; i++) m = w[i] > m ? w[i] : m;
  return m;
}

static void layout_ws(dg_cuda *g, arena *a, int rows) {
  const dg_layout *L = &g->L;
  const dg_config *c = L->config;
  size_t H = L->H, steps = L->d.steps, nf = c->feature_noise_dim, SF = (size_t)L->d.S * L->d.feature, A = L->d.attribute, M = L->d.additional;
  g->xh = take(a, (steps + 1) * rows * (nf + H));
  g->base = take(a, rows * 4 * H);
  g->gates = take(a, steps * rows * 4 * H);
  g->c = take(a, steps * rows * H);
  g->tc = take(a, steps * rows * H);
  g->y = take(a, steps * rows * SF);
  g->mask = take(a, (size_t)rows * L->d.T);
  g->lengths = (int32_t *)take(a, rows);
  g->xam = take(a, rows * (A + M));
  g->dy = take(a, steps * rows * SF);
  g->dh = take(a, steps * rows * H);
  g->dgsum = take(a, rows * 4 * H);
  g->dA = take(a, rows * A);
  g->dM = take(a, rows * (M ? M : 1));
  g->khT = take(a, 4 * H * H);
  g->a_main = take(a, rows);
  g->a_aux = take(a, rows);
  g->partner = (int32_t *)take(a, rows);
  int mw = max_of(c->attribute_hidden, c->n_attribute_hidden, (int)A);
  mw = max_of(c->minmax_hidden, c->n_minmax_hidden, mw > (int)M ? mw : (int)M);
  g->d1 = take(a, (size_t)rows * mw);
  g->d2 = take(a, (size_t)rows * mw);
  size_t feature_partials = (steps * rows + COLSUM_CHUNK - 1) / COLSUM_CHUNK * SF;
  size_t other_partials = ((size_t)rows + COLSUM_CHUNK - 1) / COLSUM_CHUNK * (4 * H > (size_t)mw ? 4 * H : (size_t)mw);
  g->colsum_partial = take(a, feature_partials > other_partials ? feature_partials : other_partials);
  const dg_mlp_layout *mlps[2] = {&L->attr, &L->minmax};
  mlp_ws *wss[2] = {&g->attr, &g->minmax};
  for (int k = 0; k < (L->has_minmax ? 2 : 1); k++) {
    const dg_mlp_layout *ml = mlps[k];
    mlp_ws *w = wss[k];
    w->input = take(a, (size_t)rows * ml->width[0]);
    for (int i = 0; i < ml->n_hidden; i++) {
      w->xhat[i] = take(a, (size_t)rows * ml->width[i + 1]);
      w->act[i] = take(a, (size_t)rows * ml->width[i + 1]);
      w->invstd[i] = take(a, ml->width[i + 1]);
    }
    w->out = take(a, (size_t)rows * ml->width[ml->n_hidden + 1]);
  }
  const dg_mlp_layout *cls[2] = {&L->critic, &L->aux};
  critic_ws *cws[2] = {&g->main_ws, &g->aux_ws};
  for (int k = 0; k < (L->d.has_aux ? 2 : 1); k++) {
    const dg_mlp_layout *cl = cls[k];
    critic_ws *w = cws[k];
    size_t r3 = 3 * (size_t)rows;
    int mwc = 1;
    for (int l = 0; l <= cl->n_hidden; l++) {
      w->act[l] = take(a, r3 * cl->width[l]);
      if (l > 0) {
        w->delta[l] = take(a, r3 * cl->width[l]);
        mwc = cl->width[l] > mwc ? cl->width[l] : mwc;
      }
    }
    w->out = take(a, r3);
    w->dout = take(a, r3);
    w->g = take(a, (size_t)rows * cl->width[0]);
    w->tmp = take(a, (size_t)rows * mwc);
    w->ex_norm = take(a, rows);
    w->clip = take(a, rows);
  }
  g->gen_features = take(a, (size_t)rows * L->d.T * L->d.feature);
}

static int ensure_ws(dg_cuda *g, int rows) {
  if (rows <= g->capacity) return DG_OK;
  arena a = {NULL, 0};
  layout_ws(g, &a, rows);
  if (g->arena) cudaFree(g->arena);
  g->arena = NULL;
  g->capacity = 0;
  if (g->graph) {
    cudaGraphExecDestroy(g->graph);
    g->graph = NULL;
  }
  CUDA_TRY(cudaMalloc(&g->arena, a.used));
  /* On g->stream: a plain cudaMemset runs on the legacy stream, unordered with g->stream's kernels. */
  CUDA_TRY(cudaMemsetAsync(g->arena, 0, a.used, g->stream));
  a.base = (char *)g->arena;
  a.used = 0;
  layout_ws(g, &a, rows);
  g->capacity = rows;
  return DG_OK;
}

/* Floats per series of a batch's three arrays: attributes, additional attributes, features. */
static void batch_widths(const dg_dims *d, size_t w[3]) {
  w[0] = d->attribute, w[1] = d->additional, w[2] = (size_t)d->T * d->feature;
}

static int ensure_batches(dg_cuda *g, int rows) {
  if (rows <= g->batch_capacity) return DG_OK;
  size_t w[3];
  batch_widths(&g->L.d, w);
  for (int k = 0; k < 16; k++)
    for (int s = 0; s < 3; s++) {
      if (g->batch[k][s]) cudaFree(g->batch[k][s]);
      g->batch[k][s] = NULL;
    }
  cudaFree(g->batch_rows);
  g->batch_rows = NULL;
  g->batch_capacity = 0;
  if (g->graph) {
    cudaGraphExecDestroy(g->graph);
    g->graph = NULL;
  }
  int n = g->L.config->critic_steps < 16 ? g->L.config->critic_steps : 16;
  for (int k = 0; k < n; k++)
    for (int s = 0; s < 3; s++) CUDA_TRY(cudaMalloc((void **)&g->batch[k][s], sizeof(float) * rows * (w[s] ? w[s] : 1)));
  CUDA_TRY(cudaMalloc((void **)&g->batch_rows, sizeof(int32_t) * n * rows));
  g->batch_capacity = rows;
  return DG_OK;
}

/* ---------------------------------------------------------------- the passes (all async on g->stream) */

static uint64_t draws_per_pass(const dg_cuda *g, int rows) {
  const dg_config *c = g->L.config;
  uint64_t nm = g->L.has_minmax ? c->minmax_noise_dim : 0;
  return 2 * (uint64_t)rows * (c->attribute_noise_dim + nm + (uint64_t)g->L.d.steps * c->feature_noise_dim);
}

/* Noise for rows [r0, r0 + rows) of a pass over n rows starting at *position + start. */
static void draw_noise(dg_cuda *g, uint64_t start, int n, int r0, int rows) {
  const dg_config *c = g->L.config;
  uint32_t seed = dg_seed(g->host);
  uint64_t na = c->attribute_noise_dim, nm = g->L.has_minmax ? c->minmax_noise_dim : 0, nf = c->feature_noise_dim, steps = g->L.d.steps;
  if (na)
    k_fill_normal<<<blocks_for(rows * na, 256), 256, 0, g->stream>>>(g->attr.input, rows, (int)na, (int)na, seed, g->position, start + 2 * r0 * na);
  if (nm) /* z_m: the first nm columns of the min/max MLP's input */
    k_fill_normal<<<blocks_for(rows * nm, 256), 256, 0, g->stream>>>(g->minmax.input, rows, (int)nm, (int)(nm + g->L.d.attribute), seed, g->position,
                                                                     start + 2 * n * na + 2 * r0 * nm);
  if (nf)
    k_fill_feature_noise<<<blocks_for(rows * steps * nf, 256), 256, 0, g->stream>>>(g->xh, rows, (int)steps, (int)nf, (int)(nf + g->L.H), seed, g->position,
                                                                                    start + 2 * n * (na + nm) + 2 * r0 * steps * nf);
}

/* db[c] += sum over rows of x[r, c]. Up to COLSUM_CHUNK rows in one pass; more (the feature bias's
 * steps x B rows) in two: chunks side by side into colsum_partial, then their sum. */
static void colsum(dg_cuda *g, float *db, const float *x, long rows, int cols) {
  long chunks = (rows + COLSUM_CHUNK - 1) / COLSUM_CHUNK;
  if (chunks <= 1) {
    k_colsum<<<column_blocks(cols), COLUMN_THREADS, 0, g->stream>>>(db, x, rows, cols, rows, 1);
    return;
  }
  k_colsum<<<column_blocks(cols, (int)chunks), COLUMN_THREADS, 0, g->stream>>>(g->colsum_partial, x, rows, cols, COLSUM_CHUNK, 0);
  k_colsum<<<column_blocks(cols), COLUMN_THREADS, 0, g->stream>>>(db, g->colsum_partial, chunks, cols, chunks, 1);
}

static void mlp_forward(dg_cuda *g, const dg_mlp_layout *ml, mlp_ws *w, const heads_desc *heads, int rows, int mode) {
  const float *x = w->input;
  float mom = g->L.config->batch_norm_momentum;
  for (int i = 0; i < ml->n_hidden; i++) {
    int in = ml->width[i], C = ml->width[i + 1];
    gemm(g, 0, 0, rows, C, in, 1.0f, x, in, g->P + ml->kernel[i], C, 0.0f, w->xhat[i], C);
    k_bias_relu<<<blocks_for((long)rows * C, 256), 256, 0, g->stream>>>(w->xhat[i], rows, C, g->P + ml->bias[i], 0);
    k_batchnorm_relu<<<column_blocks(C), COLUMN_THREADS, 0, g->stream>>>(w->xhat[i], w->act[i], w->invstd[i], g->P + ml->gamma[i], g->P + ml->beta[i],
                                                                 g->Bf + ml->moving_mean[i], g->Bf + ml->moving_var[i], rows, C, mode, mom);
    x = w->act[i];
  }
  int Lh = ml->n_hidden, out = ml->width[Lh + 1];
  gemm(g, 0, 0, rows, out, ml->width[Lh], 1.0f, x, ml->width[Lh], g->P + ml->kernel[Lh], out, 0.0f, w->out, out);
  k_bias_relu<<<blocks_for((long)rows * out, 256), 256, 0, g->stream>>>(w->out, rows, out, g->P + ml->bias[Lh], 0);
  heads_forward(g, heads, w->out, rows);
}

static void mlp_backward(dg_cuda *g, const dg_mlp_layout *ml, mlp_ws *w, const heads_desc *heads, int rows, float *dout) {
  int Lh = ml->n_hidden, out = ml->width[Lh + 1];
  heads_backward(g, heads, dout, w->out, rows);
  const float *x_last = Lh ? w->act[Lh - 1] : w->input;
  gemm(g, 1, 0, ml->width[Lh], out, rows, 1.0f, x_last, ml->width[Lh], dout, out, 1.0f, g->G + ml->kernel[Lh], out);
  colsum(g, g->G + ml->bias[Lh], dout, rows, out);
  if (Lh) gemm(g, 0, 1, rows, ml->width[Lh], out, 1.0f, dout, out, g->P + ml->kernel[Lh], out, 0.0f, g->d1, ml->width[Lh]);
  for (int i = Lh - 1; i >= 0; i--) {
    int in = ml->width[i], C = ml->width[i + 1];
    k_batchnorm_relu_backward<<<column_blocks(C), COLUMN_THREADS, 0, g->stream>>>(g->d2, g->G + ml->gamma[i], g->G + ml->beta[i], g->d1, w->act[i], w->xhat[i],
                                                                          w->invstd[i], g->P + ml->gamma[i], rows, C);
    const float *x = i ? w->act[i - 1] : w->input;
    gemm(g, 1, 0, in, C, rows, 1.0f, x, in, g->d2, C, 1.0f, g->G + ml->kernel[i], C);
    colsum(g, g->G + ml->bias[i], g->d2, rows, C);
    if (i) gemm(g, 0, 1, rows, in, C, 1.0f, g->d2, C, g->P + ml->kernel[i], C, 0.0f, g->d1, in);
  }
}

/* generator_forward of dg_cpu.c, on `rows` rows whose noise is drawn. */
static void generator_forward(dg_cuda *g, int rows, int mode, const float *given_attr, const float *given_add) {
  const dg_layout *L = &g->L;
  const dg_config *c = L->config;
  int A = L->d.attribute, Md = L->d.additional, H = L->H, steps = L->d.steps, S = L->d.S, F = L->d.feature, nf = c->feature_noise_dim, AM = A + Md;
  int ld = nf + H, G4 = 4 * H;
  if (given_attr)
    cudaMemcpyAsync(g->attr.out, given_attr, sizeof(float) * rows * A, cudaMemcpyDeviceToDevice, g->stream);
  else
    mlp_forward(g, &L->attr, &g->attr, &g->attr_heads, rows, mode);
  stage(g, "generator: attribute MLP");
  if (L->has_minmax) {
    int nm = c->minmax_noise_dim;
    k_copy_cols<<<blocks_for((long)rows * A, 256), 256, 0, g->stream>>>(g->minmax.input, nm + A, nm, g->attr.out, A, rows, A);
    if (given_add)
      cudaMemcpyAsync(g->minmax.out, given_add, sizeof(float) * rows * Md, cudaMemcpyDeviceToDevice, g->stream);
    else
      mlp_forward(g, &L->minmax, &g->minmax, &g->add_heads, rows, mode);
    stage(g, "generator: min/max MLP");
  }
  k_copy_cols<<<blocks_for((long)rows * A, 256), 256, 0, g->stream>>>(g->xam, AM, 0, g->attr.out, A, rows, A);
  if (Md) k_copy_cols<<<blocks_for((long)rows * Md, 256), 256, 0, g->stream>>>(g->xam, AM, A, g->minmax.out, Md, rows, Md);
  const float *K = g->P + L->lstm_kernel;
  gemm(g, 0, 0, rows, G4, AM, 1.0f, g->xam, AM, K, G4, 0.0f, g->base, G4);
  k_bias_relu<<<blocks_for((long)rows * G4, 256), 256, 0, g->stream>>>(g->base, rows, G4, g->P + L->lstm_bias, 0);
  stage(g, "generator: LSTM input [A, M] K + b");
  int R = (rows + 131) / 132;
  R = R < 1 ? 1 : R > LSTM_MAX_ROWS ? LSTM_MAX_ROWS : R;
  size_t smem = sizeof(float) * ((g->lstm_k_shared_fwd ? (size_t)ld * G4 : 0) + (size_t)R * padded4(ld) + (size_t)R * G4 + (size_t)R * H);
  k_lstm_forward<<<(rows + R - 1) / R, lstm_threads(H), smem, g->stream>>>(g->gates, g->xh, g->base, K + (size_t)AM * G4, g->c, g->tc, steps, rows, nf, H, R,
                                                                g->lstm_k_shared_fwd);
  stage(g, "generator: LSTM forward (persistent kernel)");
  int SF = S * F;
  gemm(g, 0, 0, steps * rows, SF, H, 1.0f, g->xh + (size_t)rows * ld + nf, ld, g->P + L->feat_kernel, SF, 0.0f, g->y, SF);
  k_bias_relu<<<blocks_for((long)steps * rows * SF, 256), 256, 0, g->stream>>>(g->y, (long)steps * rows, SF, g->P + L->feat_bias, 0);
  heads_forward(g, &g->feat_heads, g->y, steps * rows);
  k_mask<<<blocks_for(rows, MASK_ROWS), dim3(32, MASK_ROWS), 0, g->stream>>>(g->mask, g->lengths, g->y, rows, L->d.T, S, F, c->gen_flags);
  stage(g, "generator: feature heads and gen-flag mask");
}

static void generator_backward(dg_cuda *g, int rows, const float *dmain, int ldm, const float *daux, int lda) {
  const dg_layout *L = &g->L;
  const dg_config *c = L->config;
  int A = L->d.attribute, Md = L->d.additional, H = L->H, steps = L->d.steps, S = L->d.S, F = L->d.feature, nf = c->feature_noise_dim, AM = A + Md;
  int ld = nf + H, G4 = 4 * H, SF = S * F, TF = L->d.T * F;
  k_gen_dA_dM<<<blocks_for((long)rows * AM, 256), 256, 0, g->stream>>>(g->dA, g->dM, dmain, ldm, daux, lda, rows, TF, A, Md);
  k_gen_dy<<<blocks_for((long)rows * TF, 256), 256, 0, g->stream>>>(g->dy, dmain, ldm, g->mask, rows, L->d.T, S, F);
  heads_backward(g, &g->feat_heads, g->dy, g->y, steps * rows);
  const float *h_all = g->xh + (size_t)rows * ld + nf;
  gemm(g, 1, 0, H, SF, steps * rows, 1.0f, h_all, ld, g->dy, SF, 1.0f, g->G + L->feat_kernel, SF);
  colsum(g, g->G + L->feat_bias, g->dy, (long)steps * rows, SF);
  gemm(g, 0, 1, steps * rows, H, SF, 1.0f, g->dy, SF, g->P + L->feat_kernel, SF, 0.0f, g->dh, H);
  stage(g, "generator backward: feature heads");

  const float *K = g->P + L->lstm_kernel;
  float *dK = g->G + L->lstm_kernel;
  k_transpose_kh<<<blocks_for((long)4 * H * H, 256), 256, 0, g->stream>>>(g->khT, K + (size_t)(AM + nf) * G4, H);
  int R = (rows + 131) / 132;
  R = R < 1 ? 1 : R > LSTM_MAX_ROWS ? LSTM_MAX_ROWS : R;
  size_t smem = sizeof(float) * ((g->lstm_k_shared_bwd ? (size_t)G4 * H : 0) + (size_t)R * G4 + 2 * (size_t)R * H);
  k_lstm_backward<<<(rows + R - 1) / R, lstm_threads(H), smem, g->stream>>>(g->gates, g->c, g->tc, g->dh, g->khT, steps, rows, H, R, g->lstm_k_shared_bwd);
  stage(g, "generator backward: LSTM BPTT (persistent kernel)");
  gemm(g, 1, 0, ld, G4, steps * rows, 1.0f, g->xh, ld, g->gates, G4, 1.0f, dK + (size_t)AM * G4, G4);
  k_sum_steps<<<blocks_for((long)rows * G4, 256), 256, 0, g->stream>>>(g->dgsum, g->gates, steps, (long)rows * G4);
  gemm(g, 1, 0, AM, G4, rows, 1.0f, g->xam, AM, g->dgsum, G4, 1.0f, dK, G4);
  colsum(g, g->G + L->lstm_bias, g->dgsum, rows, G4);
  stage(g, "generator backward: LSTM kernel and bias gradients");
  if (L->has_minmax) mlp_backward(g, &L->minmax, &g->minmax, &g->add_heads, rows, g->dM);
  mlp_backward(g, &L->attr, &g->attr, &g->attr_heads, rows, g->dA);
  stage(g, "generator backward: attribute and min/max MLPs");
}

static void critic_forward(dg_cuda *g, const dg_mlp_layout *cl, critic_ws *w, int rows) {
  int Lh = cl->n_hidden;
  for (int l = 0; l < Lh; l++) {
    gemm(g, 0, 0, rows, cl->width[l + 1], cl->width[l], 1.0f, w->act[l], cl->width[l], g->P + cl->kernel[l], cl->width[l + 1], 0.0f, w->act[l + 1],
         cl->width[l + 1]);
    k_bias_relu<<<blocks_for((long)rows * cl->width[l + 1], 256), 256, 0, g->stream>>>(w->act[l + 1], rows, cl->width[l + 1], g->P + cl->bias[l], 1);
  }
  k_critic_out<<<blocks_for((long)rows * 32, 256), 256, 0, g->stream>>>(w->out, w->act[Lh], g->P + cl->kernel[Lh], g->P + cl->bias[Lh], rows, cl->width[Lh]);
}

static void critic_deltas(dg_cuda *g, const dg_mlp_layout *cl, critic_ws *w, int rows) {
  int Lh = cl->n_hidden;
  if (!Lh) return;
  k_delta_last<<<blocks_for((long)rows * cl->width[Lh], 256), 256, 0, g->stream>>>(w->delta[Lh], w->act[Lh], w->dout, g->P + cl->kernel[Lh], rows,
                                                                                   cl->width[Lh]);
  for (int l = Lh - 1; l >= 1; l--) {
    gemm(g, 0, 1, rows, cl->width[l], cl->width[l + 1], 1.0f, w->delta[l + 1], cl->width[l + 1], g->P + cl->kernel[l], cl->width[l + 1], 0.0f,
         w->delta[l], cl->width[l]);
    long n = (long)rows * cl->width[l];
    k_relu_mask<<<blocks_for(n, 256), 256, 0, g->stream>>>(w->delta[l], w->delta[l], w->act[l], n);
  }
}

static void critic_input_grad(dg_cuda *g, const dg_mlp_layout *cl, critic_ws *w, int first, int rows) {
  int Lh = cl->n_hidden, w0 = cl->width[0];
  if (!Lh) {
    k_input_grad_linear<<<blocks_for((long)rows * w0, 256), 256, 0, g->stream>>>(w->g, w->dout, first, g->P + cl->kernel[0], rows, w0);
    return;
  }
  gemm(g, 0, 1, rows, w0, cl->width[1], 1.0f, w->delta[1] + (size_t)first * cl->width[1], cl->width[1], g->P + cl->kernel[0], cl->width[1], 0.0f, w->g,
       w0);
}

/* Where critic step s's noise for network net (DG_NET_CRITIC or DG_NET_AUX) lies in dp_noise, or NULL. */
static const float *dp_noise_for(const dg_cuda *g, int s, int net) {
  if (!g->dp_noise) return NULL;
  const dg_layout *L = &g->L;
  size_t main = L->net_end[DG_NET_CRITIC] - L->net_begin[DG_NET_CRITIC], aux = L->net_end[DG_NET_AUX] - L->net_begin[DG_NET_AUX];
  return g->dp_noise + (size_t)s * (main + aux) + (net == DG_NET_AUX ? main : 0);
}

/* dg_critic_wgan_gp_grads for critic step s of network net (DG_NET_CRITIC or DG_NET_AUX): gradients of
 * mean D(fake) - mean D(real) + lambda gp into G (overwritten); with DP-SGD, each example's share
 * clipped to the clip norm, then the step's noise added. */
static void critic_wgan_gp(dg_cuda *g, int net, int s, int B) {
  const dg_config *c = g->L.config;
  int aux = net == DG_NET_AUX;
  const dg_mlp_layout *cl = aux ? &g->L.aux : &g->L.critic;
  critic_ws *w = aux ? &g->aux_ws : &g->main_ws;
  int stat0 = aux ? 3 : 0; /* g->stats slots: mean D(real), mean D(fake), gp sum */
  int Lh = cl->n_hidden, w0 = cl->width[0], rows = 3 * B;
  float lambda = c->gradient_penalty_weight;
  critic_forward(g, cl, w, rows);
  k_mean<<<1, 256, 0, g->stream>>>(g->stats, stat0, w->out, 0, B);
  k_mean<<<1, 256, 0, g->stream>>>(g->stats, stat0 + 1, w->out, B, B);
  k_dout<<<blocks_for(rows, 256), 256, 0, g->stream>>>(w->dout, B, 1, 0.0f);
  critic_deltas(g, cl, w, rows);
  critic_input_grad(g, cl, w, 2 * B, B);
  k_gradient_penalty<<<B, 256, 0, g->stream>>>(w->act[0] + (size_t)2 * B * w0, w->g, B, w0, lambda, g->stats + stat0 + 2);
  for (int l = 1; l <= Lh; l++) {
    float *prev = w->act[l - 1] + (size_t)2 * B * cl->width[l - 1], *cur = w->act[l] + (size_t)2 * B * cl->width[l];
    gemm(g, 0, 0, B, cl->width[l], cl->width[l - 1], 1.0f, prev, cl->width[l - 1], g->P + cl->kernel[l - 1], cl->width[l], 0.0f, w->tmp, cl->width[l]);
    long n = (long)B * cl->width[l];
    k_relu_mask<<<blocks_for(n, 256), 256, 0, g->stream>>>(cur, w->tmp, cur, n);
  }
  if (dg_dp_enabled(c)) {
    critic_rows rows_of = {};
    for (int l = 0; l <= Lh; l++) {
      rows_of.act[l] = w->act[l];
      rows_of.delta[l] = w->delta[l];
      rows_of.width[l] = cl->width[l];
    }
    rows_of.n_hidden = Lh;
    k_example_norms<<<B, NORM_THREADS, 0, g->stream>>>(w->ex_norm, rows_of, w->dout, B);
    /* into losses[6..7] (main) or [8..9] (aux) */
    k_clip_factors<<<1, 256, 0, g->stream>>>(w->clip, g->losses + (aux ? 8 : 6), w->ex_norm, B, c->dp_clip_norm);
    k_scale_example_rows<<<B, 128, 0, g->stream>>>(rows_of, w->dout, w->clip, B);
  }
  for (int l = 0; l < Lh; l++) {
    gemm(g, 1, 0, cl->width[l], cl->width[l + 1], rows, 1.0f, w->act[l], cl->width[l], w->delta[l + 1], cl->width[l + 1], 0.0f, g->G + cl->kernel[l],
         cl->width[l + 1]);
    k_colsum_real_fake<<<column_blocks(cl->width[l + 1]), COLUMN_THREADS, 0, g->stream>>>(g->G + cl->bias[l], w->delta[l + 1], B, cl->width[l + 1]);
  }
  k_out_grads<<<column_blocks(cl->width[Lh]), COLUMN_THREADS, 0, g->stream>>>(g->G + cl->kernel[Lh], g->G + cl->bias[Lh], w->act[Lh], w->dout, B, cl->width[Lh]);
  /* N(0, (sigma C / B)^2) per coordinate, as dg_cpu.c's critic_step_grads adds to the mean clipped
   * gradient; over the expected batch size instead of B for Poisson-sampled batches. */
  const float *noise = dp_noise_for(g, s, net);
  long n = (long)(g->L.net_end[net] - g->L.net_begin[net]);
  double divisor = dg_step_batch(c, B);
  if (dg_dp_enabled(c) && divisor != B) k_scale<<<blocks_for(n, 256), 256, 0, g->stream>>>(g->G + g->L.net_begin[net], n, (float)(B / divisor));
  if (noise)
    k_add_scaled<<<blocks_for(n, 256), 256, 0, g->stream>>>(g->G + g->L.net_begin[net], noise, (float)((double)c->dp_noise_multiplier * c->dp_clip_norm / divisor), n);
}

/* Fresh N(0, 1) noise from the OS's secure randomness into the next host buffer. */
static int draw_dp_noise(dg_cuda *g) {
  float *host = g->dp_noise_host[g->dp_next];
  /* A page-locked buffer is read by the device while the copy runs: wait for its last upload (long
   * done whenever the iteration that used it has finished, which is the normal case). */
  CUDA_TRY(cudaEventSynchronize(g->dp_noise_uploaded[g->dp_next]));
  memset(host, 0, sizeof(float) * g->dp_noise_floats);
  int rc = dg_add_secure_gaussian(g->dp_pool, host, g->dp_noise_floats, 1.0);
  g->dp_next_ready = rc == DG_OK;
  return rc;
}

/* This iteration's noise on its way to the device (ordered before the iteration on g->stream): drawn
 * while the previous iteration ran, or now. Each buffer is used once. */
static int upload_dp_noise(dg_cuda *g) {
  int rc;
  if (!g->dp_noise) return DG_OK;
  if (!g->dp_next_ready && (rc = draw_dp_noise(g))) return rc;
  CUDA_TRY(cudaMemcpyAsync(g->dp_noise, g->dp_noise_host[g->dp_next], sizeof(float) * g->dp_noise_floats, cudaMemcpyHostToDevice, g->stream));
  CUDA_TRY(cudaEventRecord(g->dp_noise_uploaded[g->dp_next], g->stream));
  g->dp_next ^= 1;
  g->dp_next_ready = 0;
  return DG_OK;
}

static void adam(dg_cuda *g, int net, float lr) {
  size_t b = g->L.net_begin[net], n = g->L.net_end[net] - b;
  if (!n) return;
  k_step<<<1, 1, 0, g->stream>>>(g->step + net);
  k_adam<<<blocks_for((long)n, 256), 256, 0, g->stream>>>(g->P + b, g->G + b, g->M + b, g->V + b, (long)n, lr, g->L.config->adam_beta1,
                                                            g->L.config->adam_beta2, g->step + net);
}

/* One whole iteration on B rows, batches already on the device; everything async (capturable). */
static void iteration(dg_cuda *g, int B) {
  const dg_layout *L = &g->L;
  const dg_config *c = L->config;
  int w0 = L->d.critic_input, wa = L->d.aux_input, TF = L->d.T * L->d.feature, A = L->d.attribute, Md = L->d.additional;
  uint32_t seed = dg_seed(g->host);
  /* Fake series per critic step: B paired by slot, or with DP-SGD on Poisson batches E paired by
   * training-set row id (dg_cpu.c, critic_grads and pair_examples): the same draws for every sample. */
  int E = c->dp_expected_batch, n_fake = E > 0 ? E : B;
  uint64_t pass = draws_per_pass(g, n_fake);
  k_zero_double<<<1, 32, 0, g->stream>>>(g->stats, 8);
  for (int s = 0; s < c->critic_steps; s++) {
    draw_noise(g, 0, n_fake, 0, n_fake);
    stage(g, "critic step: noise");
    generator_forward(g, n_fake, 0, NULL, NULL);
    if (E > 0) {
      k_pair_examples<<<blocks_for(B, 256), 256, 0, g->stream>>>(g->partner, g->a_main, g->a_aux, g->batch_rows + (size_t)s * B, B, E, seed,
                                                                 g->step + DG_NET_CRITIC);
      k_advance<<<1, 1, 0, g->stream>>>(g->position, pass);
    } else {
      k_fill_uniform<<<blocks_for(B, 256), 256, 0, g->stream>>>(g->a_main, B, seed, g->position, pass);
      if (L->d.has_aux) k_fill_uniform<<<blocks_for(B, 256), 256, 0, g->stream>>>(g->a_aux, B, seed, g->position, pass + B);
      k_advance<<<1, 1, 0, g->stream>>>(g->position, pass + (L->d.has_aux ? 2 : 1) * (uint64_t)B);
    }
    if (s > 0) k_zero_double<<<1, 32, 0, g->stream>>>(g->stats, 6);

    float *X = g->main_ws.act[0];
    k_real_rows<<<blocks_for((long)B * w0, 256), 256, 0, g->stream>>>(X, w0, g->batch[s][2], g->batch[s][0], g->batch[s][1], B, TF, A, Md);
    if (E > 0)
      k_fake_rows_paired<<<blocks_for((long)B * w0, 256), 256, 0, g->stream>>>(X + (size_t)B * w0, w0, g->y, g->mask, g->attr.out, g->minmax.out, g->partner,
                                                                               B, E, L->d.T, L->d.S, L->d.feature, A, Md);
    else
      k_fake_rows<<<blocks_for((long)B * w0, 256), 256, 0, g->stream>>>(X + (size_t)B * w0, w0, g->y, g->mask, g->attr.out, g->minmax.out, B, L->d.T,
                                                                        L->d.S, L->d.feature, A, Md, 0);
    k_interpolate<<<blocks_for((long)B * w0, 256), 256, 0, g->stream>>>(X, B, w0, g->a_main);
    stage(g, "critic step: input rows [real; fake; x_hat]");
    critic_wgan_gp(g, DG_NET_CRITIC, s, B);
    stage(g, "critic step: main critic WGAN-GP gradients");
    if (L->d.has_aux) {
      float *Xa = g->aux_ws.act[0];
      k_copy_cols<<<blocks_for((long)2 * B * wa, 256), 256, 0, g->stream>>>(Xa, wa, 0, X + TF, w0, 2 * B, wa);
      k_interpolate<<<blocks_for((long)B * wa, 256), 256, 0, g->stream>>>(Xa, B, wa, g->a_aux);
      critic_wgan_gp(g, DG_NET_AUX, s, B);
      stage(g, "critic step: aux critic WGAN-GP gradients");
    }
    k_losses<<<1, 1, 0, g->stream>>>(g->losses, g->stats, B, c->gradient_penalty_weight, c->aux_critic_weight, L->d.has_aux, 0);
    adam(g, DG_NET_CRITIC, c->critic_lr);
    if (L->d.has_aux) adam(g, DG_NET_AUX, c->aux_critic_lr);
    stage(g, "critic step: Adam");
  }

  /* generator step: G fake series (the expected batch size with Poisson-sampled DP batches) */
  int G = dg_step_batch(c, B);
  draw_noise(g, 0, G, 0, G);
  k_advance<<<1, 1, 0, g->stream>>>(g->position, draws_per_pass(g, G));
  generator_forward(g, G, 1, NULL, NULL);
  float *X = g->main_ws.act[0];
  k_fake_rows<<<blocks_for((long)G * w0, 256), 256, 0, g->stream>>>(X, w0, g->y, g->mask, g->attr.out, g->minmax.out, G, L->d.T, L->d.S, L->d.feature,
                                                                    A, Md, 0);
  stage(g, "generator step: fake rows");
  critic_forward(g, &L->critic, &g->main_ws, G);
  k_mean<<<1, 256, 0, g->stream>>>(g->stats, 6, g->main_ws.out, 0, G);
  k_dout<<<blocks_for(G, 256), 256, 0, g->stream>>>(g->main_ws.dout, G, 0, -1.0f / G);
  critic_deltas(g, &L->critic, &g->main_ws, G);
  critic_input_grad(g, &L->critic, &g->main_ws, 0, G);
  const float *daux = NULL;
  if (L->d.has_aux) {
    k_copy_cols<<<blocks_for((long)G * wa, 256), 256, 0, g->stream>>>(g->aux_ws.act[0], wa, 0, X + TF, w0, G, wa);
    critic_forward(g, &L->aux, &g->aux_ws, G);
    k_mean<<<1, 256, 0, g->stream>>>(g->stats, 7, g->aux_ws.out, 0, G);
    k_dout<<<blocks_for(G, 256), 256, 0, g->stream>>>(g->aux_ws.dout, G, 0, -c->aux_critic_weight / G);
    critic_deltas(g, &L->aux, &g->aux_ws, G);
    critic_input_grad(g, &L->aux, &g->aux_ws, 0, G);
    daux = g->aux_ws.g;
  }
  k_losses<<<1, 1, 0, g->stream>>>(g->losses, g->stats, G, c->gradient_penalty_weight, c->aux_critic_weight, L->d.has_aux, 1);
  stage(g, "generator step: critics forward and input gradients");
  size_t gb = L->net_begin[DG_NET_GENERATOR];
  cudaMemsetAsync(g->G + gb, 0, sizeof(float) * (L->net_end[DG_NET_GENERATOR] - gb), g->stream);
  generator_backward(g, G, g->main_ws.g, w0, daux, wa);
  adam(g, DG_NET_GENERATOR, c->generator_lr);
  stage(g, "generator step: Adam");
}

/* ---------------------------------------------------------------- API */

/* Whether the NVIDIA driver library can be loaded at all: without it the static CUDA runtime reports
 * "driver version is insufficient", which misleads on a machine that simply has no NVIDIA driver. */
static int driver_installed(void) {
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib) dlclose(lib);
  return lib != NULL;
}

extern "C" int dg_cuda_available(void) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e == cudaErrorInsufficientDriver && !driver_installed())
    return dg_fail(DG_ERR_CONFIG, "no NVIDIA driver (libcuda.so.1 not found)");
  if (e != cudaSuccess || n == 0) return dg_fail(DG_ERR_CONFIG, "no CUDA device: %s", e != cudaSuccess ? cudaGetErrorString(e) : "none found");
  /* A device this build has no code for (machine code for sm_80 and sm_90, PTX for compute_90) would
   * only fail at the first launch: ask for a kernel's attributes now instead. */
  cudaFuncAttributes attr;
  e = cudaFuncGetAttributes(&attr, k_advance);
  if (e != cudaSuccess) {
    int device = 0, major = 0, minor = 0;
    cudaGetDevice(&device);
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
    return dg_fail(DG_ERR_CONFIG, "the CUDA device (compute capability %d.%d) cannot run this build: %s", major, minor, cudaGetErrorString(e));
  }
  return load_cublas();
}

extern "C" int dg_cuda_device_name(char *out, size_t size) {
  if (!out || size == 0) return dg_fail(DG_ERR_ARG, "dg_cuda_device_name needs a buffer");
  int device = 0;
  cudaDeviceProp prop;
  CUDA_TRY(cudaGetDevice(&device));
  CUDA_TRY(cudaGetDeviceProperties(&prop, device));
  snprintf(out, size, "%s, sm_%d%d, %.0f GiB", prop.name, prop.major, prop.minor, (double)prop.totalGlobalMem / (1u << 30));
  return DG_OK;
}

/* On g->stream and waited for: a plain cudaMemcpy from pageable memory goes through the legacy default
 * stream, may return before its DMA is done, and is not ordered with g->stream (non-blocking), so the
 * next kernels could read the old state. */
static int upload_state(dg_cuda *g) {
  const dg_layout *L = &g->L;
  size_t np = L->n_param_floats, nb = L->n_buffer_floats;
  CUDA_TRY(cudaStreamSynchronize(g->stream));
  CUDA_TRY(cudaMemcpyAsync(g->P, dg_params(g->host), sizeof(float) * np, cudaMemcpyHostToDevice, g->stream));
  CUDA_TRY(cudaMemcpyAsync(g->M, dg_adam_m(g->host), sizeof(float) * np, cudaMemcpyHostToDevice, g->stream));
  CUDA_TRY(cudaMemcpyAsync(g->V, dg_adam_v(g->host), sizeof(float) * np, cudaMemcpyHostToDevice, g->stream));
  if (nb) CUDA_TRY(cudaMemcpyAsync(g->Bf, dg_buffers(g->host), sizeof(float) * nb, cudaMemcpyHostToDevice, g->stream));
  dg_counters c;
  dg_get_counters(g->host, &c);
  g->host_position = c.noise_position;
  g->host_step[0] = c.generator_step;
  g->host_step[1] = c.critic_step;
  g->host_step[2] = c.aux_critic_step;
  CUDA_TRY(cudaMemcpyAsync(g->position, &g->host_position, sizeof(uint64_t), cudaMemcpyHostToDevice, g->stream));
  CUDA_TRY(cudaMemcpyAsync(g->step, g->host_step, sizeof(int64_t) * 3, cudaMemcpyHostToDevice, g->stream));
  CUDA_TRY(cudaStreamSynchronize(g->stream));
  return DG_OK;
}

extern "C" int dg_cuda_upload(dg_cuda *g) { return upload_state(g); }

extern "C" int dg_cuda_download(dg_cuda *g) {
  const dg_layout *L = &g->L;
  size_t np = L->n_param_floats, nb = L->n_buffer_floats;
  CUDA_TRY(cudaStreamSynchronize(g->stream));
  CUDA_TRY(cudaMemcpy(dg_params(g->host), g->P, sizeof(float) * np, cudaMemcpyDeviceToHost));
  CUDA_TRY(cudaMemcpy(dg_grads(g->host), g->G, sizeof(float) * np, cudaMemcpyDeviceToHost));
  CUDA_TRY(cudaMemcpy(dg_adam_m(g->host), g->M, sizeof(float) * np, cudaMemcpyDeviceToHost));
  CUDA_TRY(cudaMemcpy(dg_adam_v(g->host), g->V, sizeof(float) * np, cudaMemcpyDeviceToHost));
  if (nb) CUDA_TRY(cudaMemcpy(dg_buffers(g->host), g->Bf, sizeof(float) * nb, cudaMemcpyDeviceToHost));
  uint64_t position;
  int64_t step[3];
  CUDA_TRY(cudaMemcpy(&position, g->position, sizeof position, cudaMemcpyDeviceToHost));
  CUDA_TRY(cudaMemcpy(step, g->step, sizeof step, cudaMemcpyDeviceToHost));
  dg_counters c = {step[0], step[1], step[2], position};
  return dg_set_counters(g->host, &c);
}

extern "C" dg_model *dg_cuda_host_model(dg_cuda *g) { return g->host; }
/* Never while profiling (stages are timed one by one), nor with Poisson-sampled batches: they change
 * size nearly every iteration, so a graph would be captured for one size and dropped at the next. */
extern "C" void dg_cuda_use_graphs(dg_cuda *g, int on) { g->use_graphs = on && !g->profile && g->L.config->dp_expected_batch == 0; }

extern "C" void dg_cuda_destroy(dg_cuda *g) {
  if (!g) return;
  if (g->profile && g->profile_stages) profile_report(g);
  if (g->graph) cudaGraphExecDestroy(g->graph);
  if (g->blas) cublas.destroy(g->blas);
  for (int k = 0; k < 16; k++)
    for (int s = 0; s < 3; s++)
      if (g->batch[k][s]) cudaFree(g->batch[k][s]);
  heads_desc *hs[3] = {&g->attr_heads, &g->add_heads, &g->feat_heads};
  for (int i = 0; i < 3; i++)
    if (hs[i]->offset) cudaFree(hs[i]->offset);
  cudaFree(g->arena);
  for (int k = 0; k < 3; k++) cudaFree(g->held[k]);
  cudaFree(g->batch_rows);
  cudaFree(g->P);
  cudaFree(g->blas_workspace);
  cudaFree(g->dp_noise);
  for (int k = 0; k < 2; k++) {
    if (g->dp_noise_pinned)
      cudaFreeHost(g->dp_noise_host[k]);
    else
      free(g->dp_noise_host[k]);
    if (g->dp_noise_uploaded[k]) cudaEventDestroy(g->dp_noise_uploaded[k]);
  }
  if (g->dp_pool) dg_pool_destroy(g->dp_pool);
  if (g->stream) cudaStreamDestroy(g->stream);
  dg_destroy(g->host);
  free(g);
}

extern "C" int dg_cuda_create(const dg_config *config, uint32_t seed, dg_cuda **out) {
  int rc;
  *out = NULL;
  if ((rc = dg_cuda_available())) return rc;
  dg_cuda *g = (dg_cuda *)calloc(1, sizeof(dg_cuda));
  if (!g) return dg_fail(DG_ERR_ALLOC, "out of memory");
  dg_config host_config = *config;
  host_config.threads = 1; /* the host model only names and stores state */
  if ((rc = dg_create(&host_config, seed, &g->host))) {
    free(g);
    return rc;
  }
  dg_get_layout(g->host, &g->L);
#define TRY(expr)                                  \
  do {                                             \
    if ((rc = (expr)) != DG_OK) {                  \
      dg_cuda_destroy(g);                          \
      return rc;                                   \
    }                                              \
  } while (0)
#define CU(expr) TRY((expr) == cudaSuccess ? DG_OK : dg_fail(DG_ERR_CONFIG, "%s failed: %s", #expr, cudaGetErrorString(cudaGetLastError())))
  CU(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
  TRY(cublas.create(&g->blas) == 0 ? DG_OK : dg_fail(DG_ERR_CONFIG, "cublasCreate failed"));
  TRY(cublas.set_stream(g->blas, g->stream) == 0 ? DG_OK : dg_fail(DG_ERR_CONFIG, "cublasSetStream failed"));
  /* Plain fp32 products (CUBLAS_DEFAULT_MATH = 0): no TF32 tensor cores, which the tests' tolerances
   * against the CPU core do not allow. It is cuBLAS's default; set explicitly in case a build differs. */
  if (cublas.set_math_mode) TRY(cublas.set_math_mode(g->blas, 0) == 0 ? DG_OK : dg_fail(DG_ERR_CONFIG, "cublasSetMathMode failed"));
  if (cublas.set_workspace) {
    /* A fixed workspace keeps cuBLAS from allocating during graph capture (set after the stream:
     * cublasSetStream resets the workspace to the default pool). */
    size_t bytes = 32u << 20;
    CU(cudaMalloc(&g->blas_workspace, bytes));
    TRY(cublas.set_workspace(g->blas, g->blas_workspace, bytes) == 0 ? DG_OK : dg_fail(DG_ERR_CONFIG, "cublasSetWorkspace failed"));
  }
  size_t np = g->L.n_param_floats, nb = g->L.n_buffer_floats;
  /* One allocation: P, G, M, V, buffers, then counters and statistics. */
  size_t floats = 4 * np + nb + 64;
  CU(cudaMalloc((void **)&g->P, sizeof(float) * floats + 256));
  CU(cudaMemsetAsync(g->P, 0, sizeof(float) * floats + 256, g->stream));
  g->G = g->P + np;
  g->M = g->G + np;
  g->V = g->M + np;
  g->Bf = g->V + np;
  char *tail = (char *)(g->Bf + nb);
  tail = (char *)(((uintptr_t)tail + 15) / 16 * 16);
  g->position = (uint64_t *)tail;
  g->step = (int64_t *)(tail + 16);
  g->stats = (double *)(tail + 48);
  g->losses = (float *)(tail + 48 + 8 * sizeof(double));
  const dg_config *c = g->L.config;
  TRY(upload_heads(&g->attr_heads, c->attributes, c->n_attributes, 1));
  if (c->n_additional) TRY(upload_heads(&g->add_heads, c->additional, c->n_additional, 1));
  TRY(upload_heads(&g->feat_heads, c->features, c->n_features, g->L.d.S));
  TRY(upload_state(g));

  /* The persistent LSTM kernels keep their weights in shared memory when they fit. */
  int H = g->L.H, ld = c->feature_noise_dim + H, G4 = 4 * H, device, max_smem = 0;
  cudaGetDevice(&device);
  cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
  size_t per_rows_fwd = sizeof(float) * LSTM_MAX_ROWS * ((size_t)padded4(ld) + G4 + H), per_rows_bwd = sizeof(float) * LSTM_MAX_ROWS * ((size_t)G4 + 2 * H);
  g->lstm_k_shared_fwd = sizeof(float) * (size_t)ld * G4 + per_rows_fwd <= (size_t)max_smem;
  g->lstm_k_shared_bwd = sizeof(float) * (size_t)G4 * H + per_rows_bwd <= (size_t)max_smem;
  if (per_rows_fwd > (size_t)max_smem || per_rows_bwd > (size_t)max_smem) {
    dg_fail(DG_ERR_CONFIG, "lstmUnits %d is too large for the CUDA core's LSTM kernels (%zu bytes of shared memory per block, the device has %d)", H,
            per_rows_fwd > per_rows_bwd ? per_rows_fwd : per_rows_bwd, max_smem);
    dg_cuda_destroy(g);
    return DG_ERR_CONFIG;
  }
  g->lstm_smem_fwd = (int)((g->lstm_k_shared_fwd ? sizeof(float) * (size_t)ld * G4 : 0) + per_rows_fwd);
  g->lstm_smem_bwd = (int)((g->lstm_k_shared_bwd ? sizeof(float) * (size_t)G4 * H : 0) + per_rows_bwd);
  CU(cudaFuncSetAttribute(k_lstm_forward, cudaFuncAttributeMaxDynamicSharedMemorySize, g->lstm_smem_fwd));
  CU(cudaFuncSetAttribute(k_lstm_backward, cudaFuncAttributeMaxDynamicSharedMemorySize, g->lstm_smem_bwd));
  if (dg_dp_enabled(c) && c->dp_noise_multiplier > 0) {
    size_t critic_floats = (g->L.net_end[DG_NET_CRITIC] - g->L.net_begin[DG_NET_CRITIC]) + (g->L.net_end[DG_NET_AUX] - g->L.net_begin[DG_NET_AUX]);
    g->dp_noise_floats = (size_t)c->critic_steps * critic_floats;
    CU(cudaMalloc((void **)&g->dp_noise, sizeof(float) * g->dp_noise_floats));
    size_t bytes = sizeof(float) * g->dp_noise_floats;
    g->dp_noise_pinned = cudaMallocHost((void **)&g->dp_noise_host[0], bytes) == cudaSuccess &&
                         cudaMallocHost((void **)&g->dp_noise_host[1], bytes) == cudaSuccess;
    if (!g->dp_noise_pinned) { /* page-locked memory is a limited resource: pageable works, only slower */
      cudaGetLastError();
      cudaFreeHost(g->dp_noise_host[0]);
      for (int k = 0; k < 2; k++) g->dp_noise_host[k] = (float *)malloc(bytes);
    }
    for (int k = 0; k < 2; k++) CU(cudaEventCreateWithFlags(&g->dp_noise_uploaded[k], cudaEventDisableTiming));
    g->dp_pool = dg_pool_create(c->threads > 0 ? c->threads : dg_default_threads());
    TRY(g->dp_noise_host[0] && g->dp_noise_host[1] && g->dp_pool ? DG_OK : dg_fail(DG_ERR_ALLOC, "out of memory"));
  }
  /* The head descriptors went up with plain cudaMemcpy (legacy stream): wait for everything. */
  CU(cudaDeviceSynchronize());
  const char *debug = getenv("DG_CUDA_DEBUG"), *profile = getenv("DG_CUDA_PROFILE");
  g->debug = debug && atoi(debug) > 0;
  g->profile = profile && atoi(profile) > 0;
  dg_cuda_use_graphs(g, 1);
#undef CU
#undef TRY
  *out = g;
  return DG_OK;
}

/* The iteration on B rows whose real batches are on their way to the device (queued on g->stream):
 * DP noise, then the graph (captured on the second iteration at a batch size) or eager launches, then
 * the losses. */
static int run_iteration(dg_cuda *g, int B, dg_losses *out) {
  int rc;
  if ((rc = upload_dp_noise(g))) return rc;
  stage(g, "real batches (upload or gather), DP noise");
  if (g->use_graphs && g->graph && g->graph_rows != B) {
    cudaGraphExecDestroy(g->graph);
    g->graph = NULL;
  }
  /* The first iteration at a batch size runs eagerly (cuBLAS's lazy setup on its first products, module
   * loading, happen outside any capture); the next one is captured once and replayed from then on. */
  if (g->use_graphs && !g->graph && g->warm_rows == B) {
    cudaGraph_t graph = NULL;
    g->capturing = 1;
    cudaError_t e = cudaStreamBeginCapture(g->stream, cudaStreamCaptureModeThreadLocal);
    if (e == cudaSuccess) {
      iteration(g, B);
      e = cudaStreamEndCapture(g->stream, &graph);
    }
    g->capturing = 0;
    /* On failure the iteration did not run; graphs go off for this model so a retry runs eagerly. */
    if (e != cudaSuccess) {
      g->blas_status = 0;
      g->use_graphs = 0;
      return dg_fail(DG_ERR_CONFIG, "capturing the iteration as a CUDA graph failed: %s (graphs now off for this model)", cudaGetErrorString(e));
    }
    if (g->blas_status) {
      cudaGraphDestroy(graph);
      g->use_graphs = 0;
      return run_errors(g, "capturing the iteration (cuBLAS; graphs now off for this model)");
    }
    e = cudaGraphInstantiate(&g->graph, graph, 0);
    cudaGraphDestroy(graph);
    if (e != cudaSuccess) {
      g->graph = NULL;
      g->use_graphs = 0;
      return dg_fail(DG_ERR_CONFIG, "cudaGraphInstantiate failed: %s (graphs now off for this model)", cudaGetErrorString(e));
    }
    g->graph_rows = B;
  }
  if (g->use_graphs && g->graph) {
    CUDA_TRY(cudaGraphLaunch(g->graph, g->stream));
  } else {
    iteration(g, B);
    g->warm_rows = B;
    g->profile_iterations++;
  }
  /* The next iteration's noise, drawn while the GPU works (a failure here is retried, and reported, by
   * the next iteration's upload_dp_noise). */
  if (g->dp_noise) draw_dp_noise(g);
  float l[10];
  CUDA_TRY(cudaMemcpyAsync(l, g->losses, sizeof l, cudaMemcpyDeviceToHost, g->stream));
  CUDA_TRY(cudaStreamSynchronize(g->stream));
  CUDA_TRY(cudaGetLastError());
  if ((rc = run_errors(g, "the training iteration"))) return rc;
  memset(out, 0, sizeof *out);
  out->critic = l[0];
  out->aux_critic = l[1];
  out->gradient_penalty = l[2];
  out->aux_gradient_penalty = l[3];
  out->generator = l[4];
  out->wasserstein_distance = l[5];
  out->dp_grad_norm = l[6];
  out->dp_clipped_fraction = l[7];
  out->aux_dp_grad_norm = l[8];
  out->aux_dp_clipped_fraction = l[9];
  for (int k = 0; k < 6; k++) /* all six, as dg_train_step checks */
    if (!isfinite(l[k]))
      return dg_fail(DG_ERR_NUMERIC, "training diverged: a loss is not finite (critic %g, generator %g, gp %g)", l[0], l[4], l[2]);
  return DG_OK;
}

/* An iteration's real batches: one per critic step (at most 16), `given` of them. */
static int check_critic_steps(const dg_config *c, int given) {
  if (given < c->critic_steps) return dg_fail(DG_ERR_ARG, "an iteration takes %d real batches (criticSteps), got %d", c->critic_steps, given);
  if (c->critic_steps > 16) return dg_fail(DG_ERR_CONFIG, "the CUDA core supports at most 16 critic steps");
  return DG_OK;
}

/* Workspaces and batch buffers for B rows, before the batches are put in place. */
static int prepare_iteration(dg_cuda *g, int B) {
  int rc;
  if (B < 1) return dg_fail(DG_ERR_ARG, "a batch needs at least one series");
  int G = dg_step_batch(g->L.config, B); /* the generator step's rows */
  if ((rc = ensure_ws(g, G > B ? G : B)) || (rc = ensure_batches(g, B))) return rc;
  if (g->profile) profile_mark(g, NULL);
  return DG_OK;
}

extern "C" int dg_cuda_train_step(dg_cuda *g, const dg_batch *batches, int n_batches, dg_losses *out) {
  int rc;
  if (!g || !batches || !out) return dg_fail(DG_ERR_ARG, "NULL argument");
  const dg_config *c = g->L.config;
  const dg_dims *d = &g->L.d;
  if ((rc = check_critic_steps(c, n_batches))) return rc;
  int B = batches[0].size;
  for (int s = 0; s < c->critic_steps; s++) {
    const dg_batch *b = &batches[s];
    if (b->size != B) return dg_fail(DG_ERR_ARG, "the CUDA core needs equal batch sizes within an iteration");
    if (!b->attributes || !b->features || (d->additional && !b->additional)) return dg_fail(DG_ERR_ARG, "a batch array is NULL");
    /* As dg_cpu.c's check_train_batch: Poisson DP pairs examples by training-set row id. */
    if (c->dp_expected_batch > 0) {
      if (!b->ids)
        return dg_fail(DG_ERR_ARG, "DP-SGD on Poisson-sampled batches (dp_expected_batch %d) needs each series' training-set row id (dg_batch.ids)",
                       c->dp_expected_batch);
      for (int i = 0; i < B; i++)
        if (b->ids[i] < 0) return dg_fail(DG_ERR_ARG, "batch row %d: the training-set row id %d is negative", i, (int)b->ids[i]);
    }
  }
  if ((rc = prepare_iteration(g, B))) return rc;
  for (int s = 0; s < c->critic_steps; s++) {
    const dg_batch *b = &batches[s];
    /* The training loop passes one batch for every critic step: a batch already uploaded this
     * iteration is copied on the device instead of crossing the bus again. */
    int same = 0;
    while (same < s && !(batches[same].attributes == b->attributes && batches[same].additional == b->additional && batches[same].features == b->features))
      same++;
    const float *from[3] = {b->attributes, b->additional, b->features};
    cudaMemcpyKind kind = cudaMemcpyHostToDevice;
    if (same < s) {
      for (int k = 0; k < 3; k++) from[k] = g->batch[same][k];
      kind = cudaMemcpyDeviceToDevice;
    }
    CUDA_TRY(cudaMemcpyAsync(g->batch[s][0], from[0], sizeof(float) * B * d->attribute, kind, g->stream));
    if (d->additional) CUDA_TRY(cudaMemcpyAsync(g->batch[s][1], from[1], sizeof(float) * B * d->additional, kind, g->stream));
    CUDA_TRY(cudaMemcpyAsync(g->batch[s][2], from[2], sizeof(float) * (size_t)B * d->T * d->feature, kind, g->stream));
    if (c->dp_expected_batch > 0)
      CUDA_TRY(cudaMemcpyAsync(g->batch_rows + (size_t)s * B, b->ids, sizeof(int32_t) * B, cudaMemcpyHostToDevice, g->stream));
  }
  return run_iteration(g, B, out);
}

extern "C" int dg_cuda_hold_training_data(dg_cuda *g, const dg_batch *all) {
  if (!g || !all) return dg_fail(DG_ERR_ARG, "NULL argument");
  const dg_dims *d = &g->L.d;
  int n = all->size;
  if (n < 1) return dg_fail(DG_ERR_ARG, "the training set needs at least one series");
  if (!all->attributes || !all->features || (d->additional && !all->additional)) return dg_fail(DG_ERR_ARG, "a training-set array is NULL");
  for (int k = 0; k < 3; k++) cudaFree(g->held[k]);
  memset(g->held, 0, sizeof g->held);
  g->held_n = 0;
  size_t widths[3];
  batch_widths(d, widths);
  /* Training needs room after the set (workspaces grow with the batch, cuBLAS's own): at most half of
   * what is free, or the caller sends batches instead. */
  size_t set_bytes = sizeof(float) * n * (widths[0] + widths[1] + widths[2]), free_bytes = 0, total_bytes = 0;
  CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  if (set_bytes > free_bytes / 2)
    return dg_fail(DG_ERR_ALLOC, "the training set (%d series, %.1f MB) would take more than half of the GPU's free memory (%.1f MB)", n, set_bytes / 1e6,
                   free_bytes / 1e6);
  const float *from[3] = {all->attributes, all->additional, all->features};
  for (int k = 0; k < 3; k++) {
    if (!widths[k]) continue;
    size_t bytes = sizeof(float) * n * widths[k];
    cudaError_t e = cudaMalloc((void **)&g->held[k], bytes);
    if (e != cudaSuccess) {
      cudaGetLastError();
      for (int i = 0; i < 3; i++) cudaFree(g->held[i]);
      memset(g->held, 0, sizeof g->held);
      return dg_fail(DG_ERR_ALLOC, "the training set (%d series, %.0f MB) does not fit in the GPU's free memory: %s", n,
                     sizeof(float) * n * (double)(widths[0] + widths[1] + widths[2]) / 1e6, cudaGetErrorString(e));
    }
    CUDA_TRY(cudaMemcpyAsync(g->held[k], from[k], bytes, cudaMemcpyHostToDevice, g->stream));
  }
  CUDA_TRY(cudaStreamSynchronize(g->stream));
  g->held_n = n;
  return DG_OK;
}

extern "C" int dg_cuda_train_step_rows(dg_cuda *g, const int32_t *const *rows, int n_steps, int B, dg_losses *out) {
  int rc;
  if (!g || !rows || !out) return dg_fail(DG_ERR_ARG, "NULL argument");
  const dg_config *c = g->L.config;
  if (!g->held_n) return dg_fail(DG_ERR_ARG, "no training set is held on the GPU (dg_cuda_hold_training_data)");
  if ((rc = check_critic_steps(c, n_steps))) return rc;
  for (int s = 0; s < c->critic_steps; s++) {
    if (!rows[s]) return dg_fail(DG_ERR_ARG, "a row list is NULL");
    for (int b = 0; b < B; b++)
      if (rows[s][b] < 0 || rows[s][b] >= g->held_n)
        return dg_fail(DG_ERR_ARG, "critic step %d, batch row %d: row %d is outside the held training set (0..%d)", s, b, (int)rows[s][b], g->held_n - 1);
  }
  if ((rc = prepare_iteration(g, B))) return rc;
  size_t widths[3];
  batch_widths(&g->L.d, widths);
  for (int s = 0; s < c->critic_steps; s++) {
    int32_t *dev_rows = g->batch_rows + (size_t)s * B;
    CUDA_TRY(cudaMemcpyAsync(dev_rows, rows[s], sizeof(int32_t) * B, cudaMemcpyHostToDevice, g->stream));
    for (int k = 0; k < 3; k++)
      if (widths[k])
        k_gather_rows<<<blocks_for((long)B * widths[k], 256), 256, 0, g->stream>>>(g->batch[s][k], g->held[k], dev_rows, B, (int)widths[k]);
  }
  return run_iteration(g, B, out);
}

#define GEN_CHUNK 1000 /* = reference.ts's GENERATION_CHUNK: one noise block per pass */

extern "C" int dg_cuda_generate(dg_cuda *g, int n, const float *given_attr, const float *given_add, float *attr_out, float *add_out, float *feat_out,
                                int32_t *lengths) {
  int rc;
  const dg_dims *d = &g->L.d;
  if (n < 0) return dg_fail(DG_ERR_ARG, "cannot generate %d series", n);
  if (given_add && !given_attr) return dg_fail(DG_ERR_ARG, "given additional attributes need given attributes too");
  if (n == 0) return DG_OK;
  if (!attr_out || !feat_out || !lengths || (d->additional > 0 && !add_out)) return dg_fail(DG_ERR_ARG, "an output array is NULL");
  int chunk = n < GEN_CHUNK ? n : GEN_CHUNK;
  if ((rc = ensure_ws(g, chunk))) return rc;
  int A = d->attribute, Md = d->additional, TF = d->T * d->feature;
  float *given_dev = NULL;
  if (given_attr) CUDA_TRY(cudaMalloc((void **)&given_dev, sizeof(float) * (size_t)chunk * (A + Md)));
  for (int r0 = 0; r0 < n; r0 += chunk) {
    int rows = n - r0 < chunk ? n - r0 : chunk;
    if (g->profile) profile_mark(g, NULL);
    if (given_attr) cudaMemcpyAsync(given_dev, given_attr + (size_t)r0 * A, sizeof(float) * rows * A, cudaMemcpyHostToDevice, g->stream);
    if (given_add) cudaMemcpyAsync(given_dev + (size_t)chunk * A, given_add + (size_t)r0 * Md, sizeof(float) * rows * Md, cudaMemcpyHostToDevice, g->stream);
    draw_noise(g, 0, rows, 0, rows);
    k_advance<<<1, 1, 0, g->stream>>>(g->position, draws_per_pass(g, rows));
    stage(g, "generation: noise");
    generator_forward(g, rows, 2, given_dev, given_add ? given_dev + (size_t)chunk * A : NULL);
    k_fake_rows<<<blocks_for((long)rows * TF, 256), 256, 0, g->stream>>>(g->gen_features, TF, g->y, g->mask, g->attr.out, g->minmax.out, rows, d->T, d->S,
                                                                          d->feature, 0, 0, 1);
    cudaMemcpyAsync(feat_out + (size_t)r0 * TF, g->gen_features, sizeof(float) * (size_t)rows * TF, cudaMemcpyDeviceToHost, g->stream);
    cudaMemcpyAsync(attr_out + (size_t)r0 * A, g->attr.out, sizeof(float) * rows * A, cudaMemcpyDeviceToHost, g->stream);
    if (Md) cudaMemcpyAsync(add_out + (size_t)r0 * Md, g->minmax.out, sizeof(float) * rows * Md, cudaMemcpyDeviceToHost, g->stream);
    cudaMemcpyAsync(lengths + r0, g->lengths, sizeof(int32_t) * rows, cudaMemcpyDeviceToHost, g->stream);
    cudaError_t e = cudaStreamSynchronize(g->stream);
    if (e != cudaSuccess) {
      if (given_dev) cudaFree(given_dev);
      return dg_fail(DG_ERR_CONFIG, "generation failed: %s", cudaGetErrorString(e));
    }
  }
  if (given_dev) cudaFree(given_dev);
  CUDA_TRY(cudaGetLastError());
  return run_errors(g, "generation");
}
