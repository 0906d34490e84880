/*
 * The CUDA emulator's cuBLAS: the handful of entry points dg_cuda.cu loads with dlopen, built as
 * out/emu/libcublas.so.13 so that dg_cuda.cu's own loader finds it first (LD_LIBRARY_PATH). Products
 * run in the order of their stream (or into its capture) through the emulator's runtime, which the test
 * binary exports. Arguments are checked as cuBLAS checks them (CUBLAS_STATUS_INVALID_VALUE = 7), and
 * every matrix must lie in device memory.
 */
#include "cuda_runtime.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

enum { STATUS_SUCCESS = 0, STATUS_NOT_INITIALIZED = 1, STATUS_INVALID_VALUE = 7 };
enum { OP_N = 0, OP_T = 1 };

struct cublasContext {
  cudaStream_t stream;
  int math_mode;
};

namespace {

/* Column-major, as cuBLAS: C (m x n) = alpha op(A) op(B) + beta C; C is not read when beta == 0. */
struct Product {
  int ta, tb, m, n, k;
  float alpha, beta;
  const float *A, *B;
  float *C;
  int lda, ldb, ldc;
};

void run_product(void *context) {
  const Product &p = *(const Product *)context;
  std::vector<float> column((size_t)p.k);
  for (int j = 0; j < p.n; j++) {
    /* op(B)[:, j] */
    for (int l = 0; l < p.k; l++) column[l] = p.tb ? p.B[j + (size_t)l * p.ldb] : p.B[l + (size_t)j * p.ldb];
    float *c = p.C + (size_t)j * p.ldc;
    for (int i = 0; i < p.m; i++) {
      float s = 0.0f;
      if (p.ta)
        for (int l = 0; l < p.k; l++) s += p.A[l + (size_t)i * p.lda] * column[l];
      else
        for (int l = 0; l < p.k; l++) s += p.A[i + (size_t)l * p.lda] * column[l];
      c[i] = p.beta == 0.0f ? p.alpha * s : p.alpha * s + p.beta * c[i];
    }
  }
}

/* The bytes a column-major rows x cols matrix with leading dimension ld spans. */
size_t span(int rows, int cols, int ld) { return rows && cols ? sizeof(float) * ((size_t)(cols - 1) * ld + rows) : 0; }

}  // namespace

extern "C" {

int cublasCreate_v2(cublasContext **handle) {
  *handle = new cublasContext{nullptr, 0};
  return STATUS_SUCCESS;
}

int cublasDestroy_v2(cublasContext *handle) {
  delete handle;
  return STATUS_SUCCESS;
}

int cublasSetStream_v2(cublasContext *handle, cudaStream_t stream) {
  if (!handle) return STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return STATUS_SUCCESS;
}

int cublasSetWorkspace_v2(cublasContext *handle, void *workspace, size_t bytes) {
  if (!handle) return STATUS_NOT_INITIALIZED;
  if (bytes && !emu_is_device_range(workspace, bytes)) return STATUS_INVALID_VALUE;
  return STATUS_SUCCESS;
}

int cublasSetMathMode(cublasContext *handle, int mode) {
  if (!handle) return STATUS_NOT_INITIALIZED;
  handle->math_mode = mode;
  return STATUS_SUCCESS;
}

int cublasSgemm_v2(cublasContext *handle, int transa, int transb, int m, int n, int k, const float *alpha, const float *A, int lda, const float *B, int ldb,
                   const float *beta, float *C, int ldc) {
  if (!handle) return STATUS_NOT_INITIALIZED;
  if ((transa != OP_N && transa != OP_T) || (transb != OP_N && transb != OP_T) || m < 0 || n < 0 || k < 0) return STATUS_INVALID_VALUE;
  int a_rows = transa == OP_N ? m : k, a_cols = transa == OP_N ? k : m, b_rows = transb == OP_N ? k : n, b_cols = transb == OP_N ? n : k;
  if (lda < (a_rows > 1 ? a_rows : 1) || ldb < (b_rows > 1 ? b_rows : 1) || ldc < (m > 1 ? m : 1)) return STATUS_INVALID_VALUE;
  if (m == 0 || n == 0) return STATUS_SUCCESS;
  if ((k && (!emu_is_device_range(A, span(a_rows, a_cols, lda)) || !emu_is_device_range(B, span(b_rows, b_cols, ldb)))) ||
      !emu_is_device_range(C, span(m, n, ldc))) {
    fprintf(stderr, "cuBLAS emulator: cublasSgemm(m %d, n %d, k %d, lda %d, ldb %d, ldc %d): a matrix is not inside one device allocation\n", m, n, k, lda,
            ldb, ldc);
    abort();
  }
  Product *p = new Product{transa, transb, m, n, k, *alpha, *beta, A, B, C, lda, ldb, ldc};
  emu_stream_submit(handle->stream, run_product, p, [](void *q) { delete (Product *)q; });
  return STATUS_SUCCESS;
}
}
