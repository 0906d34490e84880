/*
 * Benchmark of the native core: ms per training iteration (1 critic step + 1 generator step) and
 * peak RSS for the WWT-shaped and short configurations at batch 100 and 1024, and generation speed.
 * Each case runs in its own process so its peak RSS is its own.
 * Usage: bench_dg [--quick] [--threads N]
 */
#include "dg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* WWT-shaped: 1 continuous feature (sigmoid) + gen flags; attributes categorical 9/3/2; auto-normalized
 * (two additional attributes); LSTM 100; critics 4 x 200; paper defaults otherwise. */
static const dg_var wwt_attrs[] = {{9, DG_SOFTMAX}, {3, DG_SOFTMAX}, {2, DG_SOFTMAX}};
static const dg_var wwt_add[] = {{1, DG_SIGMOID}, {1, DG_SIGMOID}};
static const dg_var wwt_feats[] = {{1, DG_SIGMOID}, {2, DG_SOFTMAX}};

static dg_config wwt_config(int T, int S, int threads) {
  dg_config c;
  memset(&c, 0, sizeof c);
  c.max_length = T;
  c.sample_len = S;
  c.attributes = wwt_attrs;
  c.n_attributes = 3;
  c.additional = wwt_add;
  c.n_additional = 2;
  c.features = wwt_feats;
  c.n_features = 2;
  c.gen_flags = 1;
  c.attribute_noise_dim = c.minmax_noise_dim = c.feature_noise_dim = 5;
  c.n_attribute_hidden = c.n_minmax_hidden = 2;
  c.attribute_hidden[0] = c.attribute_hidden[1] = c.minmax_hidden[0] = c.minmax_hidden[1] = 100;
  c.lstm_units = 100;
  c.n_critic_hidden = c.n_aux_hidden = 4;
  for (int i = 0; i < 4; i++) c.critic_hidden[i] = c.aux_hidden[i] = 200;
  c.aux_critic_weight = 1;
  c.gradient_penalty_weight = 10;
  c.generator_lr = c.critic_lr = c.aux_critic_lr = 1e-3f;
  c.adam_beta1 = 0.5f;
  c.adam_beta2 = 0.999f;
  c.critic_steps = 1;
  c.batch_norm_momentum = 0.99f;
  c.threads = threads;
  return c;
}

/* A plausible encoded batch: one-hot attributes, values in [0,1], random lengths with gen flags. */
static void fill_batch(dg_batch *b, int B, const dg_dims *d, float *attr, float *add, float *feat) {
  unsigned s = 12345;
  memset(attr, 0, sizeof(float) * B * d->attribute);
  memset(feat, 0, sizeof(float) * (size_t)B * d->T * d->feature);
  for (int i = 0; i < B; i++) {
    s = s * 1103515245u + 12345u;
    attr[i * d->attribute + (s >> 16) % 9] = 1;
    attr[i * d->attribute + 9 + (s >> 8) % 3] = 1;
    attr[i * d->attribute + 12 + (s >> 4) % 2] = 1;
    add[i * 2] = 0.3f;
    add[i * 2 + 1] = 0.2f;
    int len = d->T / 2 + (int)((s >> 3) % (d->T / 2 + 1));
    if (len > d->T) len = d->T;
    for (int t = 0; t < len; t++) {
      float *f = feat + ((size_t)i * d->T + t) * d->feature;
      s = s * 1103515245u + 12345u;
      f[0] = (float)((s >> 8) & 0xffff) / 65535.0f;
      f[1 + (t == len - 1)] = 1;
    }
  }
  b->size = B;
  b->attributes = attr;
  b->additional = add;
  b->features = feat;
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
  double best = 1e30, total = 0, cpu0 = cpu_ms();
  for (int i = 0; i < iterations; i++) {
    double t0 = now_ms();
    if (dg_train_step(m, &batch, 1, &l)) {
      fprintf(stderr, "%s\n", dg_error_message());
      return 1;
    }
    double t = now_ms() - t0;
    total += t;
    best = t < best ? t : best;
  }
  double cpu = (cpu_ms() - cpu0) / iterations;
  printf("%-24s batch %4d  %8.2f ms/iter (best %7.2f, cpu %7.2f)  peak RSS %4ld MB  [%d threads, %s]\n", label, B, total / iterations, best, cpu,
         peak_rss_mb(), dg_thread_count(m), dg_kernel_name());
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

typedef struct {
  const char *label;
  int T, S, B, iterations;
  int generation;
} bench_case;

int main(int argc, char **argv) {
  int quick = 0, threads = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--quick") == 0) quick = 1;
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
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
