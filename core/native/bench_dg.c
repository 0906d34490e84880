/*
 * Benchmark of the native core: ms per training iteration (1 critic step + 1 generator step) and
 * peak RSS for the WWT-shaped and short configurations at batch 100 and 1024, and generation speed.
 * Each case runs in its own process so its peak RSS is its own.
 * Usage: bench_dg [--quick] [--threads N] [--only CASE] [--iters N]   (CASE: 0 WWT b100, 1 short b100, 2 WWT b1024, 3 short b1024, 4 generation)
 *        bench_dg --dp [--dp-clip C] [--dp-sigma SIGMA] [--quick] [--threads N]   DP-SGD off vs on, alternating
 */
#include "dg.h"
#include "dg_bench_configs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef DG_PROFILE
#include "dg_internal.h"
#endif

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static long peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

static int bench_training(const char *label, int T, int S, int B, int iterations, int threads) {
  dg_config c = wwt_config(T, S, threads);
  dg_model *m;
  if (dg_create(&c, 1, &m)) {
    fprintf(stderr, "%s\n", dg_error_message());
    return 1;
  }
  dg_dims d;
  dg_get_dims(m, &d);
  float *attr = malloc(sizeof(float) * B * d.attribute), *add = malloc(sizeof(float) * B * 2);
  float *feat = malloc(sizeof(float) * (size_t)B * d.T * d.feature);
  dg_batch batch;
  fill_batch(&batch, B, &d, attr, add, feat);
  dg_losses l;
  for (int i = 0; i < 3; i++) dg_train_step(m, &batch, 1, &l); /* warm-up: workspaces, caches */
#ifdef DG_PROFILE
  dg_prof_reset();
#endif
  double *times = malloc(sizeof(double) * iterations);
  double best = 1e30, total = 0, cpu0 = cpu_ms();
  for (int i = 0; i < iterations; i++) {
    double t0 = now_ms();
    if (dg_train_step(m, &batch, 1, &l)) {
      fprintf(stderr, "%s\n", dg_error_message());
      return 1;
    }
    double t = now_ms() - t0;
    times[i] = t;
    total += t;
    best = t < best ? t : best;
  }
  double cpu = (cpu_ms() - cpu0) / iterations;
  qsort(times, iterations, sizeof(double), cmp_double);
  printf("%-24s batch %4d  %8.2f ms/iter (median %7.2f, best %7.2f, cpu %7.2f)  peak RSS %4ld MB  [%d threads, %s]\n", label, B, total / iterations,
         times[iterations / 2], best, cpu, peak_rss_mb(), dg_thread_count(m), dg_kernel_name());
  free(times);
#ifdef DG_PROFILE
  dg_prof_report(iterations);
#endif
  free(attr), free(add), free(feat);
  dg_destroy(m);
  return 0;
}

static int bench_generation(const char *label, int T, int S, int n, int threads) {
  dg_config c = wwt_config(T, S, threads);
  dg_model *m;
  if (dg_create(&c, 1, &m)) return 1;
  dg_dims d;
  dg_get_dims(m, &d);
  float *attr = malloc(sizeof(float) * n * d.attribute), *add = malloc(sizeof(float) * n * 2);
  float *feat = malloc(sizeof(float) * (size_t)n * d.T * d.feature);
  int32_t *len = malloc(sizeof(int32_t) * n);
  dg_generate(m, 1000, NULL, NULL, attr, add, feat, len); /* warm-up */
  double t0 = now_ms(), c0 = cpu_ms();
  if (dg_generate(m, n, NULL, NULL, attr, add, feat, len)) {
    fprintf(stderr, "%s\n", dg_error_message());
    return 1;
  }
  double t = now_ms() - t0, cpu = cpu_ms() - c0;
  printf("%-24s %d series in %.1f ms: %.0f series/s (cpu %.1f ms)  peak RSS %ld MB  [%d threads]\n", label, n, t, n / (t / 1e3), cpu, peak_rss_mb(),
         dg_thread_count(m));
  free(attr), free(add), free(feat), free(len);
  dg_destroy(m);
  return 0;
}

/* DP-SGD off vs on (clip norm C, noise multiplier sigma) on the same machine state: two models, their
 * iterations alternating, so load from other processes hits both alike. */
static int bench_dp(const char *label, int T, int S, int B, int iterations, int threads, float C, float sigma) {
  dg_config c = wwt_config(T, S, threads);
  dg_model *m[2];
  if (dg_create(&c, 1, &m[0])) return 1;
  c.dp_clip_norm = C;
  c.dp_noise_multiplier = sigma;
  if (dg_create(&c, 1, &m[1])) {
    fprintf(stderr, "%s\n", dg_error_message());
    return 1;
  }
  dg_dims d;
  dg_get_dims(m[0], &d);
  float *attr = malloc(sizeof(float) * B * d.attribute), *add = malloc(sizeof(float) * B * 2);
  float *feat = malloc(sizeof(float) * (size_t)B * d.T * d.feature);
  dg_batch batch;
  fill_batch(&batch, B, &d, attr, add, feat);
  dg_losses l;
  for (int i = 0; i < 3; i++) dg_train_step(m[0], &batch, 1, &l), dg_train_step(m[1], &batch, 1, &l);
  double total[2] = {0, 0}, best[2] = {1e30, 1e30}, clipped = 0, norm = 0;
  for (int i = 0; i < 2 * iterations; i++) {
    int k = (i & 1) ^ ((i >> 1) & 1); /* off, on, on, off, ...: neither always goes first */
    double t0 = now_ms();
    if (dg_train_step(m[k], &batch, 1, &l)) {
      fprintf(stderr, "%s\n", dg_error_message());
      return 1;
    }
    double t = now_ms() - t0;
    total[k] += t;
    best[k] = t < best[k] ? t : best[k];
    if (k) clipped += l.dp_clipped_fraction / iterations, norm += l.dp_grad_norm / iterations;
  }
  double off = total[0] / iterations, on = total[1] / iterations;
  printf("%-24s batch %4d  DP off %7.2f ms (best %6.2f)  DP on %7.2f ms (best %6.2f)  +%.1f%% (best +%.1f%%)  [C %g sigma %g: mean norm %.3g, "
         "clipped %.2f; %d threads]\n",
         label, B, off, best[0], on, best[1], 100 * (on / off - 1), 100 * (best[1] / best[0] - 1), C, sigma, norm, clipped, dg_thread_count(m[0]));
  free(attr), free(add), free(feat);
  dg_destroy(m[0]), dg_destroy(m[1]);
  return 0;
}

typedef struct {
  const char *label;
  int T, S, B, iterations;
  int generation;
} bench_case;

int main(int argc, char **argv) {
  int quick = 0, threads = 0, dp = 0, only = -1, iters = 0;
  float dp_clip = 1.0f, dp_sigma = 1.0f;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = 1;
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    if (strcmp(argv[i], "--dp") == 0) dp = 1;
    if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = atoi(argv[++i]);
    if (strcmp(argv[i], "--iters") == 0 && i + 1 < argc) iters = atoi(argv[++i]);
    if (strcmp(argv[i], "--dp-clip") == 0 && i + 1 < argc) dp = 1, dp_clip = (float)atof(argv[++i]);
    if (strcmp(argv[i], "--dp-sigma") == 0 && i + 1 < argc) dp = 1, dp_sigma = (float)atof(argv[++i]);
  }
  if (dp) {
    bench_case dp_cases[] = {
        {"WWT-shaped T=550 S=10", 550, 10, 100, quick ? 10 : 40, 0},
        {"short T=50 S=5", 50, 5, 100, quick ? 20 : 100, 0},
        {"WWT-shaped T=550 S=10", 550, 10, 1024, quick ? 2 : 6, 0},
    };
    int failed = 0;
    for (size_t i = 0; i < sizeof dp_cases / sizeof dp_cases[0]; i++)
      failed |= bench_dp(dp_cases[i].label, dp_cases[i].T, dp_cases[i].S, dp_cases[i].B, dp_cases[i].iterations, threads, dp_clip, dp_sigma);
    return failed;
  }
  bench_case cases[] = {
      {"WWT-shaped T=550 S=10", 550, 10, 100, quick ? 10 : 40, 0},
      {"short T=50 S=5", 50, 5, 100, quick ? 20 : 100, 0},
      {"WWT-shaped T=550 S=10", 550, 10, 1024, quick ? 2 : 6, 0},
      {"short T=50 S=5", 50, 5, 1024, quick ? 5 : 20, 0},
      {"generate WWT-shaped", 550, 10, 0, 0, quick ? 5000 : 20000},
  };
  int failed = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    if (only >= 0 && (int)i != only) continue;
    if (iters > 0 && !cases[i].generation) cases[i].iterations = iters;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
      bench_case *b = &cases[i];
      int rc = b->generation ? bench_generation(b->label, b->T, b->S, b->generation, threads)
                             : bench_training(b->label, b->T, b->S, b->B, b->iterations, threads);
      fflush(stdout);
      _exit(rc);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    failed |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  return failed;
}
