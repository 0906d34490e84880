/*
 * Do the machine's CPUs behave like separate physical cores or like hyperthread siblings of one core?
 * Runs an FMA-bound loop (AVX-512 and AVX2, 12 independent accumulators) and a memory-bandwidth-bound
 * loop (sum over 256 MB), first one copy pinned to cpu0, then one copy per CPU at the same time
 * (pinned with sched_setaffinity), and prints each copy's throughput. Separate cores: two copies each
 * run at the single-copy rate. Siblings of one core: the FMA loop's per-copy rate halves.
 *   make -C core/native probe && core/native/out/probe_cores [seconds per test]
 * Needs a quiet machine (another process on either CPU distorts the comparison).
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* 12 independent FMA chains of one vector width: throughput-bound (a sibling thread would halve it). */
#define FMA_LOOP(name, isa, vec, mm)                                                                      \
  __attribute__((target(isa))) static double name(long iters, float seed) {                              \
    vec m = mm##_set1_ps(0.999999f), c = mm##_set1_ps(1e-7f), a[12];                                    \
    for (int k = 0; k < 12; k++) a[k] = mm##_set1_ps(seed + k);                                          \
    for (long n = 0; n < iters; n++) {                                                                   \
      _Pragma("GCC unroll 12") for (int k = 0; k < 12; k++) a[k] = mm##_fmadd_ps(a[k], m, c);            \
    }                                                                                                    \
    for (int k = 1; k < 12; k++) a[0] = mm##_add_ps(a[0], a[k]);                                         \
    float out[sizeof(vec) / sizeof(float)];                                                              \
    mm##_storeu_ps(out, a[0]);                                                                           \
    return out[0];                                                                                       \
  }
FMA_LOOP(fma512, "avx512f", __m512, _mm512)
FMA_LOOP(fma256, "avx2,fma", __m256, _mm256)

/* Scalar integer chain mix: a latency-bound loop (a sibling could fill the idle slots). */
static double scalar_chain(long iters, float seed) {
  unsigned long x = (unsigned long)seed + 1;
  for (long n = 0; n < iters; n++) x = x * 6364136223846793005ul + 1442695040888963407ul;
  return (double)(x & 0xff);
}

#define MEM_FLOATS (64L << 20) /* 256 MB per copy */

/* Sum over the first `floats` of buf, `passes` times: 256 MB streams from memory, 1 MB stays in L2. */
#define MEM_FLOATS (64L << 20)
#define L2_FLOATS (256L << 10)
__attribute__((target("avx512f"))) static double sum_floats(const float *buf, long floats, long passes) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  for (long p = 0; p < passes; p++)
    for (long i = 0; i < floats; i += 64) {
      s0 = _mm512_add_ps(s0, _mm512_load_ps(buf + i));
      s1 = _mm512_add_ps(s1, _mm512_load_ps(buf + i + 16));
      s2 = _mm512_add_ps(s2, _mm512_load_ps(buf + i + 32));
      s3 = _mm512_add_ps(s3, _mm512_load_ps(buf + i + 48));
    }
  float out[16];
  _mm512_storeu_ps(out, _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  return out[0];
}

enum { T_FMA512, T_FMA256, T_SCALAR, T_MEM, T_L2, N_TESTS };
static const char *names[N_TESTS] = {"fma avx512 (GFLOP/s)", "fma avx2 (GFLOP/s)", "scalar mul-add chain (G ops/s)", "memory sum 256MB (GB/s)",
                                     "L2 sum 1MB (GB/s)"};

typedef struct {
  int cpu, test;
  double seconds;
  double rate;
  pthread_barrier_t *barrier;
  float *buf;
} job;

static double run_test(int test, float *buf, double seconds) {
  /* Calibrate a unit of work, then repeat it until `seconds` have passed. */
  double t0 = now_s(), done = 0, sink = 0;
  while (now_s() - t0 < seconds) {
    switch (test) {
      case T_FMA512: sink += fma512(1000000, 1.0f), done += 1000000.0 * 12 * 32; break;
      case T_FMA256: sink += fma256(1000000, 1.0f), done += 1000000.0 * 12 * 16; break;
      case T_SCALAR: sink += scalar_chain(10000000, 1.0f), done += 1e7; break;
      case T_MEM: sink += sum_floats(buf, MEM_FLOATS, 1), done += MEM_FLOATS * 4.0; break;
      case T_L2: sink += sum_floats(buf, L2_FLOATS, 200), done += 200.0 * L2_FLOATS * 4; break;
    }
  }
  double t = now_s() - t0;
  if (sink == 12345.678) printf(" ");
  return done / t / 1e9;
}

static void *worker(void *arg) {
  job *j = arg;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(j->cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set)) perror("sched_setaffinity");
  pthread_barrier_wait(j->barrier);
  j->rate = run_test(j->test, j->buf, j->seconds);
  return NULL;
}

/* `copies` copies of a test at once, copy i pinned to CPU first_cpu + i. */
static void run_copies(int test, int first_cpu, int copies, double seconds, float **bufs, double *rates) {
  pthread_t th[2];
  job jobs[2];
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, copies);
  for (int i = 0; i < copies; i++) {
    jobs[i] = (job){first_cpu + i, test, seconds, 0, &barrier, bufs[first_cpu + i]};
    pthread_create(&th[i], NULL, worker, &jobs[i]);
  }
  for (int i = 0; i < copies; i++) pthread_join(th[i], NULL), rates[i] = jobs[i].rate;
  pthread_barrier_destroy(&barrier);
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 2.0;
  int rounds = argc > 2 ? atoi(argv[2]) : 3;
  float *bufs[2];
  for (int i = 0; i < 2; i++) {
    bufs[i] = aligned_alloc(64, MEM_FLOATS * sizeof(float));
    for (long k = 0; k < MEM_FLOATS; k++) bufs[i][k] = (float)(k & 7);
  }
  printf("online CPUs: %ld; %g s per test, %d rounds (1 copy on cpu0 / 1 copy on cpu1 / 2 copies on cpu0+cpu1)\n", sysconf(_SC_NPROCESSORS_ONLN),
         seconds, rounds);
  for (int t = 0; t < N_TESTS; t++) {
    for (int r = 0; r < rounds; r++) {
      double one[1], one1[1], two[2];
      run_copies(t, 0, 1, seconds, bufs, one);
      run_copies(t, 1, 1, seconds, bufs, one1);
      run_copies(t, 0, 2, seconds, bufs, two);
      printf("%-32s cpu0 alone %8.2f | cpu1 alone %8.2f | together %8.2f + %8.2f = %8.2f  (per-copy ratio %.2f, total speedup %.2fx)\n",
             names[t], one[0], one1[0], two[0], two[1], two[0] + two[1], (two[0] + two[1]) / 2 / one[0], (two[0] + two[1]) / one[0]);
      fflush(stdout);
    }
  }
  return 0;
}
#else
int main(void) {
  printf("x86-64 only\n");
  return 0;
}
#endif
