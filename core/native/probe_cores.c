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

__attribute__((target("avx512f"))) static double fma512(long iters, float seed) {
  __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  __m512 a0 = _mm512_set1_ps(seed), a1 = _mm512_set1_ps(seed + 1), a2 = _mm512_set1_ps(seed + 2), a3 = _mm512_set1_ps(seed + 3);
  __m512 a4 = _mm512_set1_ps(seed + 4), a5 = _mm512_set1_ps(seed + 5), a6 = _mm512_set1_ps(seed + 6), a7 = _mm512_set1_ps(seed + 7);
  __m512 a8 = _mm512_set1_ps(seed + 8), a9 = _mm512_set1_ps(seed + 9), a10 = _mm512_set1_ps(seed + 10), a11 = _mm512_set1_ps(seed + 11);
  for (long n = 0; n < iters; n++) {
    a0 = _mm512_fmadd_ps(a0, m, c), a1 = _mm512_fmadd_ps(a1, m, c), a2 = _mm512_fmadd_ps(a2, m, c), a3 = _mm512_fmadd_ps(a3, m, c);
    a4 = _mm512_fmadd_ps(a4, m, c), a5 = _mm512_fmadd_ps(a5, m, c), a6 = _mm512_fmadd_ps(a6, m, c), a7 = _mm512_fmadd_ps(a7, m, c);
    a8 = _mm512_fmadd_ps(a8, m, c), a9 = _mm512_fmadd_ps(a9, m, c), a10 = _mm512_fmadd_ps(a10, m, c), a11 = _mm512_fmadd_ps(a11, m, c);
  }
  float out[16];
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)), _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  _mm512_storeu_ps(out, s);
  return out[0];
}

__attribute__((target("avx2,fma"))) static double fma256(long iters, float seed) {
  __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  __m256 a0 = _mm256_set1_ps(seed), a1 = _mm256_set1_ps(seed + 1), a2 = _mm256_set1_ps(seed + 2), a3 = _mm256_set1_ps(seed + 3);
  __m256 a4 = _mm256_set1_ps(seed + 4), a5 = _mm256_set1_ps(seed + 5), a6 = _mm256_set1_ps(seed + 6), a7 = _mm256_set1_ps(seed + 7);
  __m256 a8 = _mm256_set1_ps(seed + 8), a9 = _mm256_set1_ps(seed + 9), a10 = _mm256_set1_ps(seed + 10), a11 = _mm256_set1_ps(seed + 11);
  for (long n = 0; n < iters; n++) {
    a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c), a2 = _mm256_fmadd_ps(a2, m, c), a3 = _mm256_fmadd_ps(a3, m, c);
    a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c), a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c);
    a8 = _mm256_fmadd_ps(a8, m, c), a9 = _mm256_fmadd_ps(a9, m, c), a10 = _mm256_fmadd_ps(a10, m, c), a11 = _mm256_fmadd_ps(a11, m, c);
  }
  float out[8];
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)), _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  _mm256_storeu_ps(out, s);
  return out[0];
}

/* Scalar integer chain mix: a latency-bound loop (a sibling could fill the idle slots). */
static double scalar_chain(long iters, float seed) {
  unsigned long x = (unsigned long)seed + 1;
  for (long n = 0; n < iters; n++) x = x * 6364136223846793005ul + 1442695040888963407ul;
  return (double)(x & 0xff);
}

#define MEM_FLOATS (64L << 20) /* 256 MB per copy */

__attribute__((target("avx512f"))) static double mem_sum(float *buf, long passes) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  for (long p = 0; p < passes; p++)
    for (long i = 0; i < MEM_FLOATS; i += 64) {
      s0 = _mm512_add_ps(s0, _mm512_load_ps(buf + i));
      s1 = _mm512_add_ps(s1, _mm512_load_ps(buf + i + 16));
      s2 = _mm512_add_ps(s2, _mm512_load_ps(buf + i + 32));
      s3 = _mm512_add_ps(s3, _mm512_load_ps(buf + i + 48));
    }
  float out[16];
  _mm512_storeu_ps(out, _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
  return out[0];
}

/* Sum over a 1 MB buffer (L2-resident per core). */
#define L2_FLOATS (256L << 10)
__attribute__((target("avx512f"))) static double l2_sum(float *buf, long passes) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
  for (long p = 0; p < passes; p++)
    for (long i = 0; i < L2_FLOATS; i += 64) {
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
      case T_MEM: sink += mem_sum(buf, 1), done += MEM_FLOATS * 4.0; break;
      case T_L2: sink += l2_sum(buf, 200), done += 200.0 * L2_FLOATS * 4; break;
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

static void run_copies(int test, int copies, double seconds, float **bufs, double *rates) {
  pthread_t th[2];
  job jobs[2];
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, copies);
  for (int i = 0; i < copies; i++) {
    jobs[i] = (job){i, test, seconds, 0, &barrier, bufs[i]};
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
      double one[2], one1[2], two[2];
      run_copies(t, 1, seconds, bufs, one);
      /* the second CPU alone: pin copy 0 to cpu1 */
      {
        pthread_barrier_t barrier;
        pthread_barrier_init(&barrier, NULL, 1);
        job j = {1, t, seconds, 0, &barrier, bufs[1]};
        pthread_t th;
        pthread_create(&th, NULL, worker, &j);
        pthread_join(th, NULL);
        one1[0] = j.rate;
        pthread_barrier_destroy(&barrier);
      }
      run_copies(t, 2, seconds, bufs, two);
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
