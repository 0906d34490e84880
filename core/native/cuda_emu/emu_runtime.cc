/*
 * The CUDA emulator's runtime (cuda_runtime.h says what it is for and what it cannot tell).
 *
 * Threads of a block are fibers: each runs on its own stack until it finishes or waits at
 * __syncthreads() or a warp shuffle; the scheduler resumes them when every live thread of the block (of
 * the warp) waits at the same place, and stops the program with a message when they do not (a divergent
 * barrier hangs or corrupts on a GPU). Streams run their work at once, in order; a stream being captured
 * records it instead, and a graph replays the recording.
 *
 * EMU_ORDER=reverse runs threads and blocks in reverse order: a result that depends on the order
 * between barriers (a missing __syncthreads, blocks that read each other's output) then changes.
 * EMU_MAX_SMEM=bytes sets the device's shared-memory limit per block (default: an H100's 232,448).
 */
#include "cuda_runtime.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define EMU_ASAN 1
#else
#define EMU_ASAN 0
#endif

uint3 threadIdx, blockIdx;
dim3 blockDim, gridDim;

[[noreturn]] static void device_fault(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fprintf(stderr, "CUDA emulator: ");
  vfprintf(stderr, format, args);
  fprintf(stderr, "\n");
  va_end(args);
  fflush(NULL);
  abort();
}

/* ---------------------------------------------------------------- fibers */

/* Saves the callee-saved registers, MXCSR and the x87 control word on the current stack, stores the
 * stack pointer in *save, and continues on the stack `load` (written by an earlier emu_switch, or by
 * new_fiber_stack). System V x86-64 only. */
extern "C" void emu_switch(void **save, void *load);
asm(R"(
  .text
  .globl emu_switch
  .type emu_switch, @function
emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size emu_switch, .-emu_switch
)");

namespace {

enum ThreadState { READY, AT_BARRIER, AT_SHUFFLE, DONE };

struct Fiber {
  void *sp;
  char *stack; /* lowest usable address (a guard page lies below) */
  ThreadState state;
  int line; /* where it waits */
  double shuffle_value;
  int shuffle_delta;
};

const size_t STACK_BYTES = 256 << 10, GUARD_BYTES = 4096;
std::vector<Fiber> fibers;
void *scheduler_sp;
Fiber *current;
const std::function<void()> *kernel_body;
const char *kernel_name;
std::vector<char> dynamic_shared;
#if EMU_ASAN
const void *main_stack_bottom;
size_t main_stack_size;
#endif

void finish_switch(void *fake_stack) {
#if EMU_ASAN
  __sanitizer_finish_switch_fiber(fake_stack, &main_stack_bottom, &main_stack_size);
#else
  (void)fake_stack;
#endif
}

void to_scheduler(bool finished) {
#if EMU_ASAN
  void *fake = nullptr;
  __sanitizer_start_switch_fiber(finished ? nullptr : &fake, main_stack_bottom, main_stack_size);
  emu_switch(&current->sp, scheduler_sp);
  finish_switch(fake);
#else
  (void)finished;
  emu_switch(&current->sp, scheduler_sp);
#endif
}

void fiber_main() {
  finish_switch(nullptr);
  (*kernel_body)();
  current->state = DONE;
  to_scheduler(true);
  device_fault("a finished thread was resumed");
}

void to_fiber(Fiber *f) {
  current = f;
#if EMU_ASAN
  void *fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, f->stack, STACK_BYTES);
  emu_switch(&scheduler_sp, f->sp);
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
  emu_switch(&scheduler_sp, f->sp);
#endif
}

/* A fresh stack that emu_switch "returns" into fiber_main from, with the stack aligned as after a call. */
void start_fiber(Fiber *f) {
  if (!f->stack) {
    char *m = (char *)mmap(nullptr, STACK_BYTES + GUARD_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) device_fault("cannot map a thread stack");
    mprotect(m, GUARD_BYTES, PROT_NONE);
    f->stack = m + GUARD_BYTES;
  }
  uintptr_t top = ((uintptr_t)f->stack + STACK_BYTES) & ~(uintptr_t)15;
  uint64_t *frame = (uint64_t *)(top - 16);
  frame[0] = (uint64_t)(uintptr_t)&fiber_main; /* return address, at top - 16: rsp = top - 8 on entry */
  frame[1] = 0;
  uint64_t *regs = frame - 6; /* r15 r14 r13 r12 rbx rbp */
  for (int i = 0; i < 6; i++) regs[i] = 0;
  uint32_t *control = (uint32_t *)(regs - 1);
  control[0] = 0x1f80; /* MXCSR: all exceptions masked, round to nearest */
  control[1] = 0x037f; /* x87: double extended precision, all exceptions masked */
  f->sp = regs - 1;
  f->state = READY;
}

bool reverse_order() {
  static int reverse = -1;
  if (reverse < 0) {
    const char *e = getenv("EMU_ORDER");
    reverse = e && strcmp(e, "reverse") == 0;
  }
  return reverse;
}

void set_thread_index(unsigned t) {
  threadIdx.x = t % blockDim.x;
  threadIdx.y = t / blockDim.x % blockDim.y;
  threadIdx.z = t / (blockDim.x * blockDim.y);
}

/* Releases the warps whose live lanes all wait at one shuffle; true when one was released. */
bool release_shuffles(unsigned n) {
  bool released = false;
  for (unsigned w0 = 0; w0 < n; w0 += 32) {
    unsigned w1 = w0 + 32 < n ? w0 + 32 : n, waiting = 0, live = 0;
    int line = -1;
    for (unsigned t = w0; t < w1; t++) {
      if (fibers[t].state == DONE) continue;
      live++;
      if (fibers[t].state == AT_SHUFFLE) {
        if (line >= 0 && fibers[t].line != line)
          device_fault("%s, block %u: lanes of warp %u shuffle at lines %d and %d", kernel_name, blockIdx.x, w0 / 32, line, fibers[t].line);
        line = fibers[t].line;
        waiting++;
      }
    }
    if (!waiting) continue;
    if (waiting != live || live != w1 - w0)
      device_fault("%s, block %u: a full-mask shuffle at line %d reached by %u of the warp's %u lanes (%u live)", kernel_name, blockIdx.x, line, waiting,
                   w1 - w0, live);
    double values[32];
    for (unsigned t = w0; t < w1; t++) values[t - w0] = fibers[t].shuffle_value;
    for (unsigned t = w0; t < w1; t++) {
      unsigned source = t - w0 + fibers[t].shuffle_delta;
      fibers[t].shuffle_value = source < w1 - w0 ? values[source] : values[t - w0];
      fibers[t].state = READY;
    }
    released = true;
  }
  return released;
}

void run_block(unsigned n) {
  for (unsigned t = 0; t < n; t++) start_fiber(&fibers[t]);
  for (;;) {
    for (unsigned k = 0; k < n; k++) {
      unsigned t = reverse_order() ? n - 1 - k : k;
      if (fibers[t].state != READY) continue;
      set_thread_index(t);
      to_fiber(&fibers[t]);
    }
    unsigned done = 0, at_barrier = 0;
    int line = -1;
    for (unsigned t = 0; t < n; t++) {
      if (fibers[t].state == DONE) done++;
      if (fibers[t].state == AT_BARRIER) {
        if (line >= 0 && fibers[t].line != line)
          device_fault("%s, block %u: threads wait at different __syncthreads (lines %d and %d)", kernel_name, blockIdx.x, line, fibers[t].line);
        line = fibers[t].line;
        at_barrier++;
      }
    }
    if (done == n) return;
    if (release_shuffles(n)) continue;
    if (done)
      device_fault("%s, block %u: __syncthreads at line %d reached by %u threads while %u have returned", kernel_name, blockIdx.x, line, at_barrier, done);
    for (unsigned t = 0; t < n; t++) fibers[t].state = READY;
  }
}

/* ---------------------------------------------------------------- device memory */

/* Engines may run on several host threads (the addon's workers): kernels run one at a time, under
 * kernel_lock (the scheduler's state is global); the allocation table has a lock of its own. */
std::recursive_mutex kernel_lock;
std::mutex allocation_lock;
std::map<uintptr_t, size_t> allocations;

bool in_device(const void *p, size_t bytes) {
  std::lock_guard<std::mutex> hold(allocation_lock);
  auto it = allocations.upper_bound((uintptr_t)p);
  if (it == allocations.begin()) return false;
  --it;
  return (uintptr_t)p >= it->first && (uintptr_t)p + bytes <= it->first + it->second;
}

bool touches_device(const void *p, size_t bytes) {
  std::lock_guard<std::mutex> hold(allocation_lock);
  auto it = allocations.upper_bound((uintptr_t)p + (bytes ? bytes - 1 : 0));
  if (it == allocations.begin()) return false;
  --it;
  return (uintptr_t)p < it->first + it->second;
}

/* ---------------------------------------------------------------- streams, capture, graphs */

cudaError_t last_error = cudaSuccess;
int max_shared_optin = -1;
std::map<const void *, int> max_dynamic_shared;

}  // namespace

struct emu_graph {
  std::vector<std::function<void()>> nodes;
};

struct emu_stream {
  emu_graph *capture = nullptr;
  bool capture_invalidated = false;
};

namespace {

emu_stream *capturing_stream; /* at most one capture at a time here */

/* A call that is not allowed while a stream is captured (relaxed mode aside): fails and spoils the capture. */
bool refuse_during_capture(const char *what) {
  if (!capturing_stream) return false;
  fprintf(stderr, "CUDA emulator: %s during a stream capture: cudaErrorStreamCaptureUnsupported, the capture is invalidated\n", what);
  capturing_stream->capture_invalidated = true;
  return true;
}

void submit(cudaStream_t stream, std::function<void()> work) {
  if (stream && stream->capture)
    stream->capture->nodes.push_back(std::move(work));
  else
    work();
}

int shared_limit() {
  if (max_shared_optin < 0) {
    const char *e = getenv("EMU_MAX_SMEM");
    max_shared_optin = e ? atoi(e) : 232448;
  }
  return max_shared_optin;
}

void copy_checked(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *what) {
  bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (dst_device ? !in_device(dst, bytes) : touches_device(dst, bytes))
    device_fault("%s of %zu bytes: the destination %p is %s", what, bytes, dst, dst_device ? "not inside one device allocation" : "device memory (wrong direction)");
  if (src_device ? !in_device(src, bytes) : touches_device(src, bytes))
    device_fault("%s of %zu bytes: the source %p is %s", what, bytes, src, src_device ? "not inside one device allocation" : "device memory (wrong direction)");
  if (bytes) memmove(dst, src, bytes);
}

}  // namespace

/* ---------------------------------------------------------------- device functions */

void emu_syncthreads(int line) {
  if (!current) device_fault("__syncthreads outside a kernel");
  current->state = AT_BARRIER;
  current->line = line;
  to_scheduler(false);
}

double emu_shfl_down(double value, int delta, int line) {
  if (!current) device_fault("a shuffle outside a kernel");
  current->state = AT_SHUFFLE;
  current->line = line;
  current->shuffle_value = value;
  current->shuffle_delta = delta;
  to_scheduler(false);
  return current->shuffle_value;
}

float *emu_dynamic_shared(void) { return (float *)dynamic_shared.data(); }

void emu::Launch::submit(const Launch &launch, const void *kernel, const char *name, std::function<void()> body) {
  unsigned threads = launch.block.x * launch.block.y * launch.block.z;
  if (launch.grid.x == 0 || launch.grid.y == 0 || launch.grid.z == 0 || threads == 0 || threads > 1024 || launch.grid.y > 65535 || launch.grid.z > 65535) {
    fprintf(stderr, "CUDA emulator: %s launched with grid (%u, %u, %u), block (%u, %u, %u): cudaErrorInvalidConfiguration\n", name, launch.grid.x, launch.grid.y,
            launch.grid.z, launch.block.x, launch.block.y, launch.block.z);
    last_error = cudaErrorInvalidConfiguration;
    return;
  }
  auto attribute = max_dynamic_shared.find(kernel);
  size_t allowed = attribute != max_dynamic_shared.end() ? (size_t)attribute->second : 48 << 10;
  if (launch.shared_bytes > allowed) {
    fprintf(stderr, "CUDA emulator: %s launched with %zu bytes of dynamic shared memory, %zu allowed (cudaFuncSetAttribute): cudaErrorInvalidValue\n", name,
            launch.shared_bytes, allowed);
    last_error = cudaErrorInvalidValue;
    return;
  }
  ::submit(launch.stream, [launch, name, body]() {
    std::lock_guard<std::recursive_mutex> hold(kernel_lock);
    if (current) device_fault("%s launched from inside a kernel", name);
    gridDim = launch.grid;
    blockDim = launch.block;
    unsigned threads = launch.block.x * launch.block.y * launch.block.z;
    if (fibers.size() < threads) fibers.resize(threads, Fiber{nullptr, nullptr, DONE, 0, 0.0, 0});
    kernel_body = &body;
    kernel_name = name;
    unsigned long blocks = (unsigned long)launch.grid.x * launch.grid.y * launch.grid.z;
    for (unsigned long k = 0; k < blocks; k++) {
      unsigned long b = reverse_order() ? blocks - 1 - k : k;
      blockIdx.x = b % launch.grid.x;
      blockIdx.y = b / launch.grid.x % launch.grid.y;
      blockIdx.z = b / ((unsigned long)launch.grid.x * launch.grid.y);
      dynamic_shared.assign(launch.shared_bytes, (char)0xff); /* NaN until written */
      run_block(threads);
    }
    current = nullptr;
    kernel_body = nullptr;
  });
}

/* ---------------------------------------------------------------- runtime API */

const char *cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInsufficientDriver: return "CUDA driver version is insufficient for CUDA runtime version";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorStreamCaptureUnsupported: return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated: return "operation failed due to a previous error during capture";
  }
  return "unknown error";
}

cudaError_t cudaGetLastError(void) {
  cudaError_t e = last_error;
  last_error = cudaSuccess;
  return e;
}

cudaError_t cudaGetDeviceCount(int *count) {
  *count = 1;
  return cudaSuccess;
}

cudaError_t cudaGetDevice(int *device) {
  *device = 0;
  return cudaSuccess;
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *prop, int device) {
  if (device != 0) return cudaErrorInvalidValue;
  memset(prop, 0, sizeof *prop);
  snprintf(prop->name, sizeof prop->name, "CUDA emulator on the CPU (reports sm_90)");
  prop->totalGlobalMem = (size_t)80 << 30;
  prop->major = 9;
  prop->minor = 0;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int *value, cudaDeviceAttr attr, int device) {
  if (device != 0) return cudaErrorInvalidValue;
  switch (attr) {
    case cudaDevAttrComputeCapabilityMajor: *value = 9; return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor: *value = 0; return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin: *value = shared_limit(); return cudaSuccess;
  }
  return cudaErrorInvalidValue;
}

cudaError_t cudaDeviceSynchronize(void) { return refuse_during_capture("cudaDeviceSynchronize") ? cudaErrorStreamCaptureUnsupported : cudaSuccess; }

namespace {
std::mutex pinned_lock;
std::map<void *, size_t> pinned;
}  // namespace

struct emu_event {
  bool recorded = false;
};

cudaError_t cudaMallocHost(void **pointer, size_t bytes) {
  if (refuse_during_capture("cudaMallocHost")) return cudaErrorStreamCaptureUnsupported;
  void *p = nullptr;
  if (posix_memalign(&p, 4096, bytes ? bytes : 1)) return cudaErrorMemoryAllocation;
  std::lock_guard<std::mutex> hold(pinned_lock);
  pinned[p] = bytes;
  *pointer = p;
  return cudaSuccess;
}

cudaError_t cudaFreeHost(void *pointer) {
  if (!pointer) return cudaSuccess;
  {
    std::lock_guard<std::mutex> hold(pinned_lock);
    if (!pinned.erase(pointer)) device_fault("cudaFreeHost(%p): not from cudaMallocHost", pointer);
  }
  free(pointer);
  return cudaSuccess;
}

cudaError_t cudaEventCreateWithFlags(cudaEvent_t *event, unsigned flags) {
  (void)flags;
  *event = new emu_event;
  return cudaSuccess;
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!event) return cudaErrorInvalidValue;
  submit(stream, [event]() { event->recorded = true; });
  return cudaSuccess;
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!event) return cudaErrorInvalidValue;
  return refuse_during_capture("cudaEventSynchronize") ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
  delete event;
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes) {
  const char *e = getenv("EMU_FREE_MEMORY");
  *total_bytes = (size_t)80 << 30;
  *free_bytes = e ? strtoull(e, nullptr, 10) : *total_bytes;
  return cudaSuccess;
}

cudaError_t cudaMalloc(void **pointer, size_t bytes) {
  if (refuse_during_capture("cudaMalloc")) return cudaErrorStreamCaptureUnsupported;
  void *p = nullptr;
  if (posix_memalign(&p, 256, bytes ? bytes : 1)) return cudaErrorMemoryAllocation;
  memset(p, 0xff, bytes); /* NaN until written: cudaMalloc does not clear */
  std::lock_guard<std::mutex> hold(allocation_lock);
  allocations[(uintptr_t)p] = bytes;
  *pointer = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void *pointer) {
  if (!pointer) return cudaSuccess;
  if (refuse_during_capture("cudaFree")) return cudaErrorStreamCaptureUnsupported;
  {
    std::lock_guard<std::mutex> hold(allocation_lock);
    auto it = allocations.find((uintptr_t)pointer);
    if (it == allocations.end()) device_fault("cudaFree(%p): not the start of a device allocation", pointer);
    allocations.erase(it);
  }
  free(pointer);
  return cudaSuccess;
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind) {
  if (refuse_during_capture("cudaMemcpy")) return cudaErrorStreamCaptureUnsupported;
  copy_checked(dst, src, bytes, kind, "cudaMemcpy");
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, cudaStream_t stream) {
  if (!stream && refuse_during_capture("cudaMemcpyAsync on the legacy stream")) return cudaErrorStreamCaptureUnsupported;
  submit(stream, [=]() { copy_checked(dst, src, bytes, kind, "cudaMemcpyAsync"); });
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void *dst, int value, size_t bytes, cudaStream_t stream) {
  if (!in_device(dst, bytes)) device_fault("cudaMemset of %zu bytes at %p: not inside one device allocation", bytes, dst);
  submit(stream, [=]() { memset(dst, value, bytes); });
  return cudaSuccess;
}

cudaError_t cudaStreamCreateWithFlags(cudaStream_t *stream, unsigned flags) {
  (void)flags;
  *stream = new emu_stream;
  return cudaSuccess;
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  if (stream == capturing_stream) return cudaErrorStreamCaptureUnsupported;
  delete stream;
  return cudaSuccess;
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  (void)stream;
  return refuse_during_capture("cudaStreamSynchronize") ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t stream, cudaStreamCaptureMode mode) {
  (void)mode;
  if (!stream) return cudaErrorStreamCaptureUnsupported; /* the legacy stream cannot be captured */
  if (capturing_stream) return cudaErrorStreamCaptureUnsupported;
  stream->capture = new emu_graph;
  stream->capture_invalidated = false;
  capturing_stream = stream;
  return cudaSuccess;
}

cudaError_t cudaStreamEndCapture(cudaStream_t stream, cudaGraph_t *graph) {
  if (!stream || stream != capturing_stream) return cudaErrorInvalidValue;
  capturing_stream = nullptr;
  emu_graph *g = stream->capture;
  stream->capture = nullptr;
  if (stream->capture_invalidated) {
    delete g;
    *graph = nullptr;
    return cudaErrorStreamCaptureInvalidated;
  }
  *graph = g;
  return cudaSuccess;
}

cudaError_t cudaGraphInstantiate(cudaGraphExec_t *exec, cudaGraph_t graph, unsigned long long flags) {
  (void)flags;
  if (!graph) return cudaErrorInvalidValue;
  *exec = new emu_graph(*graph);
  return cudaSuccess;
}

cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t stream) {
  if (!exec) return cudaErrorInvalidValue;
  for (auto &node : exec->nodes) submit(stream, node);
  return cudaSuccess;
}

cudaError_t cudaGraphDestroy(cudaGraph_t graph) {
  delete graph;
  return cudaSuccess;
}

cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}

cudaError_t emu_func_set_attribute(const void *kernel, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize || value < 0 || value > shared_limit()) return cudaErrorInvalidValue;
  max_dynamic_shared[kernel] = value;
  return cudaSuccess;
}

cudaError_t emu_func_get_attributes(cudaFuncAttributes *attr, const void *kernel) {
  auto it = max_dynamic_shared.find(kernel);
  attr->maxDynamicSharedSizeBytes = it != max_dynamic_shared.end() ? it->second : 48 << 10;
  attr->maxThreadsPerBlock = 1024;
  return cudaSuccess;
}

extern "C" void emu_stream_submit(cudaStream_t stream, void (*run)(void *), void *context, void (*release)(void *)) {
  std::shared_ptr<void> owned(context, release ? release : [](void *) {});
  submit(stream, [run, owned]() { run(owned.get()); });
}

extern "C" int emu_is_device_range(const void *pointer, size_t bytes) { return in_device(pointer, bytes); }

extern "C" void emu_check_device_pointer(const char *kernel, int index, const void *pointer) {
  if (!pointer) return;
  /* an empty range: one past the end of an allocation counts */
  if (in_device(pointer, 0)) return;
  device_fault("%s: argument %d (%p) is not device memory (a host pointer faults on the GPU)", kernel, index, pointer);
}
