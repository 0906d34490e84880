/*
 * A small fork-join pool. One training iteration dispatches a few hundred parallel regions (one per
 * GEMM, most of them the LSTM's per-step products), each a few tens of microseconds long, so waking
 * workers through a condition variable every time would cost more than the work. Workers spin for a
 * couple of milliseconds after each region and only then sleep on the condition variable. A region is
 * split into chunks that threads take dynamically, so a busy machine that deschedules a worker slows
 * a region down instead of stalling it.
 */
#include "dg_internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_NANOSECONDS 1000000L
#define MAX_THREADS 64

/* state = generation (24 bits) | chunk count (20 bits) | next chunk (20 bits), updated atomically so a
 * late worker can never take a chunk of a region that has finished or not yet started. */
#define GEN_SHIFT 40
#define COUNT_SHIFT 20
#define FIELD_MASK 0xfffffull
#define GEN_MASK 0xffffffull

struct dg_pool {
  int n;
  pthread_t threads[MAX_THREADS];
  int started;
  pthread_mutex_t mutex;
  pthread_cond_t wake;
  _Atomic uint64_t state;
  atomic_int done;
  atomic_int sleeping;
  atomic_int stop;
  dg_task_fn fn;
  void *ctx;
  uint32_t generation;
  float *scratch[MAX_THREADS];
  size_t scratch_floats[MAX_THREADS];
  struct worker_arg {
    dg_pool *pool;
    int id;
  } args[MAX_THREADS];
};

static long now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

static inline uint32_t gen_of(uint64_t s) { return (uint32_t)((s >> GEN_SHIFT) & GEN_MASK); }

/* Takes and runs chunks of region `gen` until none is left. */
static void run_chunks(dg_pool *p, uint32_t gen, int thread) {
  for (;;) {
    uint64_t s = atomic_load(&p->state);
    uint32_t count = (uint32_t)((s >> COUNT_SHIFT) & FIELD_MASK), next = (uint32_t)(s & FIELD_MASK);
    if (gen_of(s) != gen || next >= count) return;
    if (!atomic_compare_exchange_weak(&p->state, &s, s + 1)) continue;
    /* Holding an unfinished chunk of `gen` guarantees fn/ctx still belong to it. */
    p->fn(p->ctx, (int)next, (int)count, thread);
    atomic_fetch_add(&p->done, 1);
  }
}

/* Waits for the next region. Between checks the worker yields its CPU: on an idle machine the yield
 * returns at once (so a new region starts within a microsecond), and on a busy one the thread that has
 * work (often the caller, sharing this core) runs instead of a spinning worker. */
static uint32_t wait_for_generation(dg_pool *p, uint32_t seen) {
  uint32_t g;
  long deadline = 0;
  int spins = 0;
  while ((g = gen_of(atomic_load(&p->state))) == seen && !atomic_load(&p->stop)) {
    if (++spins % 64 != 0) {
      cpu_relax();
      continue;
    }
    sched_yield();
    long t = now_ns();
    if (deadline == 0) deadline = t + SPIN_NANOSECONDS;
    if (t < deadline) continue;
    pthread_mutex_lock(&p->mutex);
    atomic_fetch_add(&p->sleeping, 1);
    while (gen_of(atomic_load(&p->state)) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->wake, &p->mutex);
    atomic_fetch_sub(&p->sleeping, 1);
    pthread_mutex_unlock(&p->mutex);
  }
  return g;
}

static void *worker_main(void *arg) {
  struct worker_arg *a = arg;
  dg_pool *p = a->pool;
  uint32_t seen = 0;
  for (;;) {
    seen = wait_for_generation(p, seen);
    if (atomic_load(&p->stop)) break;
    run_chunks(p, seen, a->id);
  }
  return NULL;
}

dg_pool *dg_pool_create(int n_threads) {
  if (n_threads < 1) n_threads = 1;
  if (n_threads > MAX_THREADS) n_threads = MAX_THREADS;
  dg_pool *p = calloc(1, sizeof(dg_pool));
  if (!p) return NULL;
  p->n = n_threads;
  /* The GEMM's packing buffers, allocated up front so that a GEMM never meets a failed allocation. */
  for (int i = 0; i < n_threads; i++) {
    if (!dg_pool_scratch(p, i, DG_GEMM_SCRATCH_FLOATS)) {
      for (int j = 0; j < i; j++) free(p->scratch[j]);
      free(p);
      return NULL;
    }
  }
  pthread_mutex_init(&p->mutex, NULL);
  pthread_cond_init(&p->wake, NULL);
  for (int i = 1; i < n_threads; i++) {
    p->args[i].pool = p;
    p->args[i].id = i;
    if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) {
      p->n = i; /* run with the threads we got */
      break;
    }
    p->started = i;
  }
  return p;
}

void dg_pool_destroy(dg_pool *p) {
  if (!p) return;
  atomic_store(&p->stop, 1);
  pthread_mutex_lock(&p->mutex);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mutex);
  for (int i = 1; i <= p->started; i++) pthread_join(p->threads[i], NULL);
  for (int i = 0; i < MAX_THREADS; i++) free(p->scratch[i]);
  pthread_mutex_destroy(&p->mutex);
  pthread_cond_destroy(&p->wake);
  free(p);
}

int dg_pool_size(const dg_pool *p) { return p ? p->n : 1; }

void dg_pool_run(dg_pool *p, dg_task_fn fn, void *ctx, int n_chunks) {
  if (n_chunks <= 0) return;
  if (!p || p->n == 1 || n_chunks == 1) {
    for (int c = 0; c < n_chunks; c++) fn(ctx, c, n_chunks, 0);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  atomic_store(&p->done, 0);
  p->generation = (p->generation + 1) & GEN_MASK;
  atomic_store(&p->state, (uint64_t)p->generation << GEN_SHIFT | (uint64_t)n_chunks << COUNT_SHIFT);
  if (atomic_load(&p->sleeping) > 0) {
    pthread_mutex_lock(&p->mutex);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
  }
  /* The caller works too; it only waits for chunks a worker took and has not finished, so a worker
   * that the OS has descheduled (busy machine) costs nothing unless it is mid-chunk. */
  run_chunks(p, p->generation, 0);
#ifdef DG_PROFILE
  double wait0 = dg_prof_now();
  dg_prof_add(DG_PROF_POOL_REGIONS, 1.0);
#endif
  for (int spins = 0; atomic_load(&p->done) != n_chunks; spins++) {
    if (spins % 64 != 63)
      cpu_relax();
    else
      sched_yield();
  }
#ifdef DG_PROFILE
  dg_prof_add(DG_PROF_POOL_WAIT, dg_prof_now() - wait0);
#endif
}

#ifdef DG_PROFILE
#include <stdio.h>
static double prof[MAX_THREADS][DG_PROF_COUNT];

double dg_prof_now(void) { return now_ns() * 1e-6; }
void dg_prof_add_t(int thread, int phase, double ms) { prof[thread][phase] += ms; }
void dg_prof_add(int phase, double ms) { prof[0][phase] += ms; }
void dg_prof_reset(void) { memset(prof, 0, sizeof prof); }
void dg_prof_report(int iterations) {
  static const char *names[DG_PROF_COUNT] = {
      "noise (draw + scatter)", "generator MLPs fwd", "LSTM forward pass", "feature heads fwd + mask", "critic input rows", "critic forward",
      "critic deltas", "critic input grad (x_hat)", "critic u forward (GP)", "critic dW/db", "Adam", "gen step: critics fwd+bwd",
      "gen bwd: heads/feature dense", "LSTM backward pass", "LSTM dK product", "gen bwd: dgsum + base + MLPs", "other",
      "  LSTM fwd GEMM (cpu, all threads)", "  LSTM fwd cell (cpu, all threads)", "  LSTM bwd cell (cpu, all threads)",
      "  LSTM bwd GEMM (cpu, all threads)", "pool regions (count)", "pool caller wait"};
  double total = 0;
  for (int ph = 0; ph <= DG_PROF_OTHER; ph++) total += prof[0][ph];
  printf("  phase                                    ms/iter\n");
  for (int ph = 0; ph < DG_PROF_COUNT; ph++) {
    double s = 0;
    for (int t = 0; t < MAX_THREADS; t++) s += prof[t][ph];
    printf("  %-38s %8.3f\n", names[ph], s / iterations);
    if (ph == DG_PROF_OTHER) printf("  %-38s %8.3f\n", "= sum of phases", total / iterations);
  }
}
#endif

float *dg_pool_scratch(dg_pool *p, int thread, size_t floats) {
  static _Thread_local float *own = NULL; /* callers without a pool (serial GEMM) */
  static _Thread_local size_t own_floats = 0;
  float **slot = p ? &p->scratch[thread] : &own;
  size_t *size = p ? &p->scratch_floats[thread] : &own_floats;
  if (*size < floats) {
    free(*slot);
    size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
    *slot = aligned_alloc(64, bytes);
    *size = *slot ? floats : 0;
  }
  return *slot;
}
