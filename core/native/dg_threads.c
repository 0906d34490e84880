/*
 * A small fork-join pool. One training iteration dispatches a few hundred parallel regions (one per
 * GEMM, most of them the LSTM's per-step products), each a few tens of microseconds long, so waking
 * workers through a condition variable every time would cost more than the work. Workers spin for a
 * couple of milliseconds after each region and only then sleep on the condition variable.
 */
#include "dg_internal.h"

#include <pthread.h>
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

#define SPIN_NANOSECONDS 2000000L
#define MAX_THREADS 64

struct dg_pool {
  int n;
  pthread_t threads[MAX_THREADS];
  int started;
  pthread_mutex_t mutex;
  pthread_cond_t wake;
  atomic_uint generation;
  atomic_int done;
  atomic_int sleeping;
  atomic_int stop;
  dg_task_fn fn;
  void *ctx;
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

static unsigned wait_for_generation(dg_pool *p, unsigned seen) {
  unsigned g;
  long deadline = 0;
  int spins = 0;
  while ((g = atomic_load(&p->generation)) == seen) {
    if (++spins % 1024 != 0) {
      cpu_relax();
      continue;
    }
    long t = now_ns();
    if (deadline == 0) deadline = t + SPIN_NANOSECONDS;
    if (t < deadline) continue;
    pthread_mutex_lock(&p->mutex);
    atomic_fetch_add(&p->sleeping, 1);
    while (atomic_load(&p->generation) == seen) pthread_cond_wait(&p->wake, &p->mutex);
    atomic_fetch_sub(&p->sleeping, 1);
    pthread_mutex_unlock(&p->mutex);
  }
  return g;
}

static void *worker_main(void *arg) {
  struct worker_arg *a = arg;
  dg_pool *p = a->pool;
  unsigned seen = 0;
  for (;;) {
    seen = wait_for_generation(p, seen);
    if (atomic_load(&p->stop)) break;
    p->fn(p->ctx, a->id, p->n);
    atomic_fetch_add(&p->done, 1);
  }
  return NULL;
}

dg_pool *dg_pool_create(int n_threads) {
  if (n_threads < 1) n_threads = 1;
  if (n_threads > MAX_THREADS) n_threads = MAX_THREADS;
  dg_pool *p = calloc(1, sizeof(dg_pool));
  if (!p) return NULL;
  p->n = n_threads;
  pthread_mutex_init(&p->mutex, NULL);
  /* The GEMM's packing buffers, allocated up front so that a GEMM never meets a failed allocation. */
  for (int i = 0; i < n_threads; i++) {
    if (!dg_pool_scratch(p, i, DG_GEMM_SCRATCH_FLOATS)) {
      for (int j = 0; j < i; j++) free(p->scratch[j]);
      pthread_mutex_destroy(&p->mutex);
      free(p);
      return NULL;
    }
  }
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
  atomic_fetch_add(&p->generation, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mutex);
  for (int i = 1; i <= p->started; i++) pthread_join(p->threads[i], NULL);
  for (int i = 0; i < MAX_THREADS; i++) free(p->scratch[i]);
  pthread_mutex_destroy(&p->mutex);
  pthread_cond_destroy(&p->wake);
  free(p);
}

int dg_pool_size(const dg_pool *p) { return p ? p->n : 1; }

void dg_pool_run(dg_pool *p, dg_task_fn fn, void *ctx) {
  if (!p || p->n == 1) {
    fn(ctx, 0, 1);
    return;
  }
  p->fn = fn;
  p->ctx = ctx;
  atomic_store(&p->done, 0);
  atomic_fetch_add(&p->generation, 1);
  if (atomic_load(&p->sleeping) > 0) {
    pthread_mutex_lock(&p->mutex);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
  }
  fn(ctx, 0, p->n);
  while (atomic_load(&p->done) != p->n - 1) cpu_relax();
}

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
