/*
 * A CUDA emulator on the CPU, for running dg_cuda.cu's kernels where there is no GPU (this header
 * replaces <cuda_runtime.h>; see emu_runtime.cc and `make cuda-emu-test`). It executes every kernel
 * thread by thread, blocks one after another, each thread on its own small stack so that
 * __syncthreads() and warp shuffles really wait for the other threads of the block or warp. It checks
 * what a GPU would not tell as clearly: divergent barriers, launches over the block or shared-memory
 * limits, copies whose pointers are not device memory of the right size, host pointers passed to
 * kernels, synchronous calls during a stream capture. Device memory is host memory filled with NaN bytes, so that AddressSanitizer sees
 * out-of-bounds accesses and reads of memory never written show up as NaN.
 *
 * It says nothing about speed, about races the chosen thread order hides (run it in both orders:
 * EMU_ORDER=reverse), or about the GPU's own rounding (its expf is glibc's).
 *
 * The launch syntax `k<<<grid, block, shmem, stream>>>(args)` is not C++: the Makefile rewrites it to
 * `emu::Launch(grid, block, shmem, stream).bind(k, "k")(args)`, and `extern __shared__ T name[];` to a
 * pointer to the block's dynamic shared memory.
 */
#ifndef DG_CUDA_EMU_RUNTIME_H
#define DG_CUDA_EMU_RUNTIME_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include <functional>

#define __global__
#define __device__
#define __host__
#define __launch_bounds__(...) /* a register budget: nothing to emulate */
#define __forceinline__ inline
/* Blocks run one after another, so one static copy per kernel is the block's shared memory. */
#define __shared__ static

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef dim3 uint3;
/* 16-byte aligned as in CUDA: UBSan (the in-order test build) stops a misaligned vector load, which
 * faults on a GPU. */
struct alignas(16) float4 {
  float x, y, z, w;
};

/* The running thread's coordinates (set by the scheduler before it resumes a thread). */
extern uint3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

/* ---------------------------------------------------------------- device functions */

void emu_syncthreads(int line);
#define __syncthreads() emu_syncthreads(__LINE__)
double emu_shfl_down(double value, int delta, int line);
float *emu_dynamic_shared(void);

/* The whole warp waits here (every lane of the mask must arrive); lanes past the warp's end keep their value. */
#define __shfl_down_sync(mask, value, delta) ((decltype(value))emu_shfl_down((double)(value), (int)(delta), __LINE__))

inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
/* One host thread runs the grid and a thread switches only at a barrier: a plain add is atomic. */
template <class T>
inline T atomicAdd(T *address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }

/* ---------------------------------------------------------------- runtime API (the part dg_cuda.cu uses) */

typedef enum cudaError {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInsufficientDriver = 35,
  cudaErrorNoDevice = 100,
  cudaErrorStreamCaptureUnsupported = 900,
  cudaErrorStreamCaptureInvalidated = 901,
} cudaError_t;

typedef struct emu_stream *cudaStream_t;
typedef struct emu_graph *cudaGraph_t;
typedef struct emu_graph *cudaGraphExec_t;
typedef struct emu_event *cudaEvent_t;

enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
enum { cudaStreamNonBlocking = 1 };
enum { cudaEventDisableTiming = 2 };
enum cudaStreamCaptureMode { cudaStreamCaptureModeGlobal = 0, cudaStreamCaptureModeThreadLocal = 1, cudaStreamCaptureModeRelaxed = 2 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
enum cudaDeviceAttr { cudaDevAttrComputeCapabilityMajor = 75, cudaDevAttrComputeCapabilityMinor = 76, cudaDevAttrMaxSharedMemoryPerBlockOptin = 97 };

struct cudaFuncAttributes {
  int maxDynamicSharedSizeBytes;
  int maxThreadsPerBlock;
};

struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  int major, minor;
};

const char *cudaGetErrorString(cudaError_t error);
cudaError_t cudaGetLastError(void);
cudaError_t cudaGetDeviceCount(int *count);
cudaError_t cudaGetDevice(int *device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device);
cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaMalloc(void **pointer, size_t bytes);
/* Page-locked host memory: plain host memory here (copies check it is not device memory). */
cudaError_t cudaMallocHost(void **pointer, size_t bytes);
cudaError_t cudaFreeHost(void *pointer);
/* Streams run their work at once, so an event is complete when recorded; synchronizing on one during a
 * capture fails and spoils it, as in CUDA. */
cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
/* Free memory: EMU_FREE_MEMORY=bytes when set (to test what a small GPU does), else 80 GiB. */
cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes);
cudaError_t cudaFree(void *pointer);
cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream = 0);
cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t stream = 0);
cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);
cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode);
cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph);
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags);
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream);
cudaError_t cudaGraphDestroy(cudaGraph_t graph);
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec);
cudaError_t emu_func_set_attribute(const void *kernel, cudaFuncAttribute attr, int value);
cudaError_t emu_func_get_attributes(cudaFuncAttributes *attr, const void *kernel);

template <class K>
inline cudaError_t cudaFuncSetAttribute(K *kernel, cudaFuncAttribute attr, int value) {
  return emu_func_set_attribute((const void *)kernel, attr, value);
}
template <class K>
inline cudaError_t cudaFuncGetAttributes(cudaFuncAttributes *attr, K *kernel) {
  return emu_func_get_attributes(attr, (const void *)kernel);
}

/* ---------------------------------------------------------------- kernel launches */

/* A kernel's pointer arguments must point into device memory (or be NULL): a host pointer would fault
 * on the GPU, while host and device memory are one here. */
extern "C" void emu_check_device_pointer(const char *kernel, int index, const void *pointer);

namespace emu {
template <class T>
inline void check_argument(const char *, int, const T &) {}
template <class T>
inline void check_argument(const char *kernel, int index, T *pointer) {
  emu_check_device_pointer(kernel, index, (const void *)pointer);
}

struct Launch {
  dim3 grid, block;
  size_t shared_bytes;
  cudaStream_t stream;
  Launch(dim3 g, dim3 b, size_t s = 0, cudaStream_t st = 0) : grid(g), block(b), shared_bytes(s), stream(st) {}
  /* The arguments are copied at the launch, as CUDA copies kernel parameters. */
  template <class... P>
  auto bind(void (*kernel)(P...), const char *name) const {
    Launch self = *this;
    return [self, kernel, name](auto... args) {
      int index = 0;
      (check_argument(name, index++, args), ...);
      submit(self, (const void *)kernel, name, [kernel, args...]() { kernel(args...); });
    };
  }
  static void submit(const Launch &launch, const void *kernel, const char *name, std::function<void()> body);
};
}  // namespace emu

/* For the cuBLAS stand-in (emu_cublas.cc, in the same library): run now, or record into the stream's capture. */
extern "C" void emu_stream_submit(cudaStream_t stream, void (*run)(void *), void *context, void (*release)(void *));
/* 1 when pointer..pointer+bytes lies inside one device allocation. */
extern "C" int emu_is_device_range(const void *pointer, size_t bytes);

#endif
