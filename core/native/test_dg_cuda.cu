/*
 * Test and benchmark of the CUDA core (dg_cuda.h) against the CPU core, for a GPU machine:
 *   make -C core/native cuda
 *   LD_LIBRARY_PATH=/usr/local/cuda-13.0/targets/x86_64-linux/lib core/native/out/test_dg_cuda [--test [--quick] | --bench]
 * Without a GPU, `make -C core/native cuda-emu-test` runs the tests on the CPU emulator (cuda_emu/).
 * Tests: one iteration on a tiny model and on the WWT-shaped model, CUDA vs CPU from the same seed and
 * batch: losses, every parameter's gradient (read from the Adam m slot, m = (1 - beta1) g after one
 * step), updated weights, running statistics, counters; graph replay vs eager launches; a few more
 * iterations; generation (noise blocks, lengths, attributes); DP-SGD clipping (deterministic without noise,
 * so compared the same way) and its noise (scale, freshness). Then ms per iteration and generation speed.
 * Exits 0 with a note when no GPU is present.
 */
#include "dg_cuda.h"

extern "C" {
#include "dg_dump.h"
#include "dg_internal.h"
}
#include "dg_bench_configs.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <string>
#include <vector>

#include <cuda_runtime.h>
#include <dlfcn.h>

/* Only the first MAX_SHOWN failures are printed (a GPU session sees the last 12,000 characters of output);
 * the count at the end includes all. stdout, like the progress lines, so the order is kept in one log. */
#define MAX_SHOWN 40
static int failures = 0, checks = 0;
#define CHECK(cond, ...)                                 \
  do {                                                   \
    checks++;                                            \
    if (!(cond)) {                                       \
      if (++failures <= MAX_SHOWN) {                     \
        printf("FAIL %s:%d: ", __FILE__, __LINE__);      \
        printf(__VA_ARGS__);                             \
        printf("\n");                                    \
        fflush(stdout);                                  \
      }                                                  \
    }                                                    \
  } while (0)

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static const dg_var tiny_attrs[] = {{3, DG_SOFTMAX}, {1, DG_SIGMOID}, {1, DG_TANH}};
static const dg_var tiny_add[] = {{1, DG_SIGMOID}, {1, DG_SIGMOID}};
static const dg_var tiny_feats[] = {{1, DG_SIGMOID}, {1, DG_TANH}, {2, DG_SOFTMAX}};

static dg_config tiny_config(void) {
  dg_config c;
  memset(&c, 0, sizeof c);
  c.max_length = 6;
  c.sample_len = 2;
  c.attributes = tiny_attrs;
  c.n_attributes = 3;
  c.additional = tiny_add;
  c.n_additional = 2;
  c.features = tiny_feats;
  c.n_features = 3;
  c.gen_flags = 1;
  c.attribute_noise_dim = 3;
  c.minmax_noise_dim = 2;
  c.feature_noise_dim = 3;
  c.n_attribute_hidden = 2;
  c.attribute_hidden[0] = 8;
  c.attribute_hidden[1] = 7;
  c.n_minmax_hidden = 1;
  c.minmax_hidden[0] = 6;
  c.lstm_units = 10;
  c.n_critic_hidden = 2;
  c.critic_hidden[0] = 16;
  c.critic_hidden[1] = 12;
  c.n_aux_hidden = 1;
  c.aux_hidden[0] = 9;
  c.aux_critic_weight = 0.7f;
  c.gradient_penalty_weight = 10.0f;
  c.generator_lr = 1e-3f;
  c.critic_lr = 2e-3f;
  c.aux_critic_lr = 5e-4f;
  c.adam_beta1 = 0.5f;
  c.adam_beta2 = 0.999f;
  c.critic_steps = 1;
  c.batch_norm_momentum = 0.9f;
  c.threads = 2;
  return c;
}

/* A batch for any config: one-hot for softmax variables, values in range, gen flags ending at random. */
typedef struct {
  dg_batch b;
  float *a, *m, *f;
  int32_t *ids; /* training-set row ids 0 .. B-1 (DP-SGD on Poisson batches pairs by them) */
} host_batch;

static void make_batch(host_batch *hb, const dg_config *c, const dg_dims *d, int B, unsigned seed) {
  hb->a = (float *)calloc((size_t)B * d->attribute, 4);
  hb->m = (float *)calloc((size_t)B * (d->additional + 1), 4);
  hb->f = (float *)calloc((size_t)B * d->T * d->feature, 4);
  unsigned s = seed;
#define NEXT() (s = s * 1103515245u + 12345u, (s >> 8) & 0xffff)
  for (int b = 0; b < B; b++) {
    for (int v = 0, o = 0; v < c->n_attributes; o += c->attributes[v].dim, v++) {
      const dg_var *x = &c->attributes[v];
      if (x->activation == DG_SOFTMAX)
        hb->a[b * d->attribute + o + NEXT() % x->dim] = 1;
      else
        hb->a[b * d->attribute + o] = NEXT() / 65535.0f * (x->activation == DG_TANH ? 2 : 1) - (x->activation == DG_TANH ? 1 : 0);
    }
    for (int k = 0; k < d->additional; k++) hb->m[b * d->additional + k] = NEXT() / 65535.0f;
    int len = c->gen_flags ? 1 + NEXT() % d->T : d->T;
    for (int t = 0; t < len; t++) {
      float *f = hb->f + ((size_t)b * d->T + t) * d->feature;
      for (int v = 0, o = 0; v < c->n_features; o += c->features[v].dim, v++) {
        const dg_var *x = &c->features[v];
        if (c->gen_flags && v == c->n_features - 1)
          f[o + (t == len - 1)] = 1;
        else if (x->activation == DG_SOFTMAX)
          f[o + NEXT() % x->dim] = 1;
        else
          f[o] = NEXT() / 65535.0f * (x->activation == DG_TANH ? 2 : 1) - (x->activation == DG_TANH ? 1 : 0);
      }
    }
  }
#undef NEXT
  hb->b.size = B;
  hb->b.attributes = hb->a;
  hb->b.additional = hb->m;
  hb->b.features = hb->f;
  hb->ids = (int32_t *)malloc(sizeof(int32_t) * B);
  for (int b = 0; b < B; b++) hb->ids[b] = b;
  hb->b.ids = hb->ids;
}

static void free_batch(host_batch *hb) { free(hb->a), free(hb->m), free(hb->f), free(hb->ids); }

static double rel_error(const float *a, const float *b, size_t n) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; i++) {
    diff = fmax(diff, fabs((double)a[i] - b[i]));
    scale = fmax(scale, fabs((double)b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

/* Biases right before a batch norm get only rounding noise as gradient. */
static int feeds_batch_norm(const char *name) { return strncmp(name, "gen.", 4) == 0 && strstr(name, ".dense") && strstr(name, ".bias"); }

static void compare_models(const char *label, dg_model *cpu, dg_model *gpu, double grad_tol) {
  dg_layout L;
  dg_get_layout(cpu, &L);
  const float lr[3] = {L.config->generator_lr, L.config->critic_lr, L.config->aux_critic_lr};
  double worst_grad = 0;
  const char *worst_name = "";
  for (int i = 0; i < dg_tensor_count(cpu); i++) {
    dg_tensor_info ti;
    dg_tensor_info_at(cpu, i, &ti);
    const float *c = dg_tensor_data(cpu, i), *g = dg_tensor_data(gpu, i);
    if (ti.kind == DG_TENSOR_ADAM_M && !feeds_batch_norm(ti.name)) {
      double e = rel_error(g, c, ti.size);
      if (e > worst_grad) worst_grad = e, worst_name = ti.name;
      CHECK(e < grad_tol, "%s: gradient (Adam m) of %s differs: relative error %.3g", label, ti.name, e);
    } else if (ti.kind == DG_TENSOR_BUFFER) {
      double e = rel_error(g, c, ti.size);
      CHECK(e < 1e-4, "%s: running statistic %s differs: %.3g", label, ti.name, e);
    } else if (ti.kind == DG_TENSOR_PARAM) {
      const float *m = dg_tensor_data(cpu, dg_tensor_find(cpu, (std::string(ti.name) + ".adam.m").c_str()));
      double mscale = 0;
      for (size_t k = 0; k < ti.size; k++) mscale = fmax(mscale, fabs(m[k]));
      int bad = 0;
      for (size_t k = 0; k < ti.size && !bad; k++) {
        int noise = feeds_batch_norm(ti.name) || fabs(m[k]) <= 1e-4 * mscale;
        double tol = noise ? 2.01 * lr[ti.network] : 1e-6 + 1e-2 * lr[ti.network];
        bad = fabs(g[k] - c[k]) > tol;
      }
      CHECK(!bad, "%s: updated weights of %s differ beyond the Adam-step tolerance", label, ti.name);
    }
  }
  dg_counters cc, gc;
  dg_get_counters(cpu, &cc);
  dg_get_counters(gpu, &gc);
  CHECK(memcmp(&cc, &gc, sizeof cc) == 0, "%s: counters differ (noise %llu vs %llu)", label, (unsigned long long)cc.noise_position,
        (unsigned long long)gc.noise_position);
  printf("  %s: worst gradient relative error %.3g (%s)\n", label, worst_grad, worst_name);
}

/* The losses, and DP-SGD's clip statistics (0 on both sides without DP). */
static void compare_losses(const char *label, const dg_losses *c, const dg_losses *g, double tol) {
  const float a[10] = {c->critic,       c->aux_critic,          c->gradient_penalty, c->aux_gradient_penalty,  c->generator,
                       c->wasserstein_distance, c->dp_grad_norm, c->dp_clipped_fraction, c->aux_dp_grad_norm, c->aux_dp_clipped_fraction};
  const float b[10] = {g->critic,       g->aux_critic,          g->gradient_penalty, g->aux_gradient_penalty,  g->generator,
                       g->wasserstein_distance, g->dp_grad_norm, g->dp_clipped_fraction, g->aux_dp_grad_norm, g->aux_dp_clipped_fraction};
  const char *names[10] = {"critic", "auxCritic", "gradientPenalty", "auxGradientPenalty", "generator", "wassersteinDistance",
                           "dp.gradNorm", "dp.clippedFraction", "dp.auxGradNorm", "dp.auxClippedFraction"};
  for (int k = 0; k < 10; k++)
    CHECK(fabs(a[k] - b[k]) <= tol * fmax(1.0, fabs(a[k])), "%s: loss %s: cpu %.7g, cuda %.7g", label, names[k], a[k], b[k]);
}

typedef struct {
  float *a, *m, *f;
  int32_t *len;
} gen_out;

static void gen_alloc(gen_out *o, int n, const dg_dims *d) {
  o->a = (float *)malloc(sizeof(float) * n * d->attribute);
  o->m = (float *)malloc(sizeof(float) * n * (d->additional + 1));
  o->f = (float *)malloc(sizeof(float) * (size_t)n * d->T * d->feature);
  o->len = (int32_t *)malloc(sizeof(int32_t) * n);
}

static void gen_free(gen_out *o) { free(o->a), free(o->m), free(o->f), free(o->len); }

/* Both engines generate n series from the same state (given attributes optional): lengths (up to ties
 * of the gen flags), attributes, additional attributes, and the features of the series whose lengths
 * agree; then the noise positions. The CPU's output is left in *keep when not NULL. Returns 0 when the
 * CUDA call failed. */
static int compare_generation(const char *label, dg_model *cpu, dg_cuda *gpu, int n, const float *given_a, const float *given_m, gen_out *keep) {
  dg_dims d;
  dg_get_dims(cpu, &d);
  gen_out c, g;
  gen_alloc(&c, n, &d);
  gen_alloc(&g, n, &d);
  CHECK(dg_generate(cpu, n, given_a, given_m, c.a, c.m, c.f, c.len) == DG_OK, "%s: cpu generate: %s", label, dg_error_message());
  int rc = dg_cuda_generate(gpu, n, given_a, given_m, g.a, g.m, g.f, g.len);
  CHECK(rc == DG_OK, "%s: cuda generate: %s", label, dg_error_message());
  if (rc == DG_OK) {
    int same = 0;
    for (int i = 0; i < n; i++) same += c.len[i] == g.len[i];
    CHECK(same >= n * 98 / 100, "%s: generated lengths agree for %d of %d", label, same, n);
    double ea = rel_error(g.a, c.a, (size_t)n * d.attribute), em = d.additional ? rel_error(g.m, c.m, (size_t)n * d.additional) : 0;
    CHECK(ea < 1e-3, "%s: generated attributes differ: %.3g", label, ea);
    CHECK(em < 1e-3, "%s: generated additional attributes differ: %.3g", label, em);
    if (given_a) CHECK(memcmp(g.a, given_a, sizeof(float) * n * d.attribute) == 0, "%s: given attributes not returned as given", label);
    double ef = 0, scale = 0;
    size_t TF = (size_t)d.T * d.feature;
    for (int i = 0; i < n; i++)
      if (c.len[i] == g.len[i])
        for (size_t k = 0; k < TF; k++) {
          ef = fmax(ef, fabs((double)g.f[i * TF + k] - c.f[i * TF + k]));
          scale = fmax(scale, fabs((double)c.f[i * TF + k]));
        }
    ef = scale > 0 ? ef / scale : ef;
    CHECK(ef < 1e-3, "%s: generated features differ (series of equal length): %.3g", label, ef);
    dg_cuda_download(gpu);
    dg_counters a, b;
    dg_get_counters(cpu, &a);
    dg_get_counters(dg_cuda_host_model(gpu), &b);
    CHECK(a.noise_position == b.noise_position, "%s: generation noise positions differ (%llu vs %llu)", label, (unsigned long long)a.noise_position,
          (unsigned long long)b.noise_position);
    printf("  %s: %d of %d lengths agree, attributes %.3g, additional %.3g, features %.3g\n", label, same, n, ea, em, ef);
  }
  if (keep)
    *keep = c;
  else
    gen_free(&c);
  gen_free(&g);
  return rc == DG_OK;
}

/* one_batch: every critic step gets the same batch arrays, as the training loop passes them. */
static void test_against_cpu(const char *label, dg_config config, int B, int generated, int one_batch = 0) {
  dg_model *cpu;
  dg_cuda *gpu;
  std::string lb;
  if (dg_create(&config, 1234, &cpu) || dg_cuda_create(&config, 1234, &gpu)) {
    CHECK(0, "%s: create: %s", label, dg_error_message());
    return;
  }
  printf("%s (batch %d, %d critic step%s)\n", label, B, config.critic_steps, config.critic_steps > 1 ? "s" : "");
  fflush(stdout);
  dg_dims d;
  dg_get_dims(cpu, &d);
  int nb = config.critic_steps;
  host_batch hb[16];
  dg_batch batches[16];
  for (int k = 0; k < nb; k++) {
    make_batch(&hb[k], &config, &d, B, 77 + 1000 * k);
    batches[k] = hb[one_batch ? 0 : k].b;
  }
  dg_cuda_use_graphs(gpu, 0);
  int small = B / 2 + 1; /* a pass over fewer rows than the batch */

  /* 1. Forward only, before any training (noise, MLPs with running statistics, LSTM, heads, mask): a
   * failure here is in the forward kernels, not in a backward pass or Adam. */
  lb = std::string(label) + " forward (generation, fresh model)";
  int ok = compare_generation(lb.c_str(), cpu, gpu, small, NULL, NULL, NULL);

  /* 2. One iteration: losses, every gradient, the updated weights, running statistics, counters. */
  dg_losses lc, lg;
  CHECK(dg_train_step(cpu, batches, nb, &lc) == DG_OK, "%s: cpu step", label);
  int rc = ok ? dg_cuda_train_step(gpu, batches, nb, &lg) : DG_ERR_CONFIG;
  CHECK(rc == DG_OK, "%s: cuda step: %s", label, ok ? dg_error_message() : "skipped (generation failed)");
  if (rc == DG_OK) {
    lb = std::string(label) + " iteration 1";
    compare_losses(lb.c_str(), &lc, &lg, 1e-3);
    if (config.dp_clip_norm > 0)
      printf("  %s: DP clipped %.0f%% of examples (main critic), %.0f%% (aux); mean norms %.4g, %.4g\n", lb.c_str(), 100 * lg.dp_clipped_fraction,
             100 * lg.aux_dp_clipped_fraction, lg.dp_grad_norm, lg.aux_dp_grad_norm);
    dg_cuda_download(gpu);
    compare_models(lb.c_str(), cpu, dg_cuda_host_model(gpu), 2e-3);
  }
  /* 3. More iterations stay close (chaos aside, a few steps of Adam keep them within a percent). */
  for (int it = 0; it < 4 && rc == DG_OK; it++) {
    dg_train_step(cpu, batches, nb, &lc);
    rc = dg_cuda_train_step(gpu, batches, nb, &lg);
    CHECK(rc == DG_OK, "%s: cuda step %d: %s", label, it + 2, dg_error_message());
  }
  if (rc == DG_OK) compare_losses((std::string(label) + " iteration 5").c_str(), &lc, &lg, 2e-2);

  if (rc == DG_OK) {
    /* 4. Generation from the same state (the GPU's): noise blocks of 1000, lengths, attributes, features. */
    dg_cuda_download(gpu);
    dg_copy_state(cpu, dg_cuda_host_model(gpu));
    gen_out first;
    lb = std::string(label) + " generation of " + std::to_string(generated);
    if (compare_generation(lb.c_str(), cpu, gpu, generated, NULL, NULL, &first)) {
      /* 5. With given attributes (and additional attributes), fewer rows than the batch. */
      lb = std::string(label) + " generation with given attributes";
      compare_generation(lb.c_str(), cpu, gpu, small, first.a, d.additional ? first.m : NULL, NULL);
      /* 6. An iteration after those smaller passes, from the same state: the workspace held other
       * shapes in between (the LSTM's h_{-1} block must still be zero). */
      dg_cuda_download(gpu);
      dg_copy_state(cpu, dg_cuda_host_model(gpu));
      CHECK(dg_train_step(cpu, batches, nb, &lc) == DG_OK, "%s: cpu step", label);
      rc = dg_cuda_train_step(gpu, batches, nb, &lg);
      CHECK(rc == DG_OK, "%s: cuda step after generation: %s", label, dg_error_message());
      if (rc == DG_OK) {
        lb = std::string(label) + " iteration after smaller passes";
        compare_losses(lb.c_str(), &lc, &lg, 1e-3);
        dg_cuda_download(gpu);
        compare_models(lb.c_str(), cpu, dg_cuda_host_model(gpu), 2e-3);
      }
      gen_free(&first);
    }
  }
  for (int k = 0; k < nb; k++) free_batch(&hb[k]);
  dg_destroy(cpu);
  dg_cuda_destroy(gpu);
}

/* Training from rows of a training set held on the device (gathered there) against uploading the same
 * rows as batches: bit-identical (graphs on: eager, capture, replays), and row errors named. */
/* poisson: DP-SGD on Poisson-sampled batches as dg train --dp-epsilon runs it (clipping without noise,
 * so deterministic; an expected batch of 6 and 4 to 7 rows per iteration), also against the CPU core. */
static void test_held_rows(int poisson = 0) {
  dg_config c = tiny_config();
  c.critic_steps = 2;
  if (poisson) c.dp_clip_norm = 18.0f, c.dp_expected_batch = 6;
  dg_cuda *held, *uploaded;
  dg_model *cpu = NULL;
  if (dg_cuda_create(&c, 9, &held) || dg_cuda_create(&c, 9, &uploaded) || (poisson && dg_create(&c, 9, &cpu))) {
    CHECK(0, "create: %s", dg_error_message());
    return;
  }
  printf("rows of a training set held on the GPU vs uploaded batches (tiny, 2 critic steps%s)\n", poisson ? ", DP-SGD on Poisson batches" : "");
  fflush(stdout);
  dg_dims d;
  dg_get_dims(dg_cuda_host_model(held), &d);
  const int n = 23, capacity = 7, TF = d.T * d.feature;
  int B = 6;
  host_batch all, batch[2];
  make_batch(&all, &c, &d, n, 41);
  make_batch(&batch[0], &c, &d, capacity, 1);
  make_batch(&batch[1], &c, &d, capacity, 2);
  dg_losses lh, lu, lc;
  int32_t rows[2][capacity];
  const int32_t *row_lists[2] = {rows[0], rows[1]};
  CHECK(dg_cuda_train_step_rows(held, row_lists, 2, B, &lh) == DG_ERR_ARG && strstr(dg_error_message(), "no training set is held"),
        "rows before any training set: %s", dg_error_message());
  CHECK(dg_cuda_hold_training_data(held, &all.b) == DG_OK, "hold: %s", dg_error_message());
  if (poisson) { /* as the CPU core: uploaded Poisson batches must carry their row ids */
    dg_batch no_ids[2] = {batch[0].b, batch[1].b};
    no_ids[0].ids = no_ids[1].ids = NULL;
    no_ids[0].size = no_ids[1].size = B;
    CHECK(dg_cuda_train_step(uploaded, no_ids, 2, &lu) == DG_ERR_ARG && strstr(dg_error_message(), "row id"), "Poisson batches without ids: %s",
          dg_error_message());
  }
  for (int it = 0; it < 4; it++) {
    if (poisson) B = 4 + (it * 3) % 4; /* 4, 7, 6, 5 rows */
    for (int k = 0; k < 2; k++) {
      for (int b = 0; b < B; b++) {
        int r = rows[k][b] = (7 * it + 5 * b + 11 * k) % n;
        memcpy(batch[k].a + b * d.attribute, all.a + r * d.attribute, sizeof(float) * d.attribute);
        memcpy(batch[k].m + b * d.additional, all.m + r * d.additional, sizeof(float) * d.additional);
        memcpy(batch[k].f + (size_t)b * TF, all.f + (size_t)r * TF, sizeof(float) * TF);
      }
      batch[k].b.size = B;
      batch[k].b.ids = rows[k]; /* the uploaded batches carry the row numbers as their ids */
    }
    dg_batch two[2] = {batch[0].b, batch[1].b};
    int rh = dg_cuda_train_step_rows(held, row_lists, 2, B, &lh), ru = dg_cuda_train_step(uploaded, two, 2, &lu);
    CHECK(rh == DG_OK && ru == DG_OK, "iteration %d: %s", it + 1, dg_error_message());
    if (rh || ru) break;
    CHECK(memcmp(&lh, &lu, sizeof lh) == 0, "iteration %d: losses differ (critic %g vs %g)", it + 1, lh.critic, lu.critic);
    if (cpu) {
      CHECK(dg_train_step(cpu, two, 2, &lc) == DG_OK, "cpu iteration %d: %s", it + 1, dg_error_message());
      compare_losses((std::string("Poisson batches, iteration ") + std::to_string(it + 1) + " vs the CPU core").c_str(), &lc, &lu, it == 0 ? 1e-3 : 2e-2);
    }
  }
  dg_cuda_download(held);
  dg_cuda_download(uploaded);
  dg_model *mh = dg_cuda_host_model(held), *mu = dg_cuda_host_model(uploaded);
  int same = 1;
  for (int i = 0; i < dg_tensor_count(mh); i++) {
    dg_tensor_info ti;
    dg_tensor_info_at(mh, i, &ti);
    same &= memcmp(dg_tensor_data(mh, i), dg_tensor_data(mu, i), sizeof(float) * ti.size) == 0;
  }
  CHECK(same, "held rows vs uploaded batches: the states differ after 4 iterations");
  if (!poisson) {
    rows[1][3] = n;
    CHECK(dg_cuda_train_step_rows(held, row_lists, 2, B, &lh) == DG_ERR_ARG && strstr(dg_error_message(), "critic step 1, batch row 3: row 23 is outside"),
          "a row past the training set: %s", dg_error_message());
  }
  printf("  held rows vs uploaded batches: %s\n", same ? "bit-identical" : "DIFFERENT");
  free_batch(&all);
  free_batch(&batch[0]);
  free_batch(&batch[1]);
  dg_cuda_destroy(held);
  dg_cuda_destroy(uploaded);
  if (cpu) dg_destroy(cpu);
}

/* Graph replay (first iteration at a batch size eager, then captured and replayed) against eager
 * launches: the same kernels, so the same numbers; a batch-size change recaptures. */
static void test_graph_replay(int T, int S) {
  dg_config c = wwt_config(T, S, 1);
  dg_cuda *eager, *graph;
  if (dg_cuda_create(&c, 5, &eager) || dg_cuda_create(&c, 5, &graph)) {
    CHECK(0, "create: %s", dg_error_message());
    return;
  }
  printf("graph replay vs eager (T=%d S=%d, batch 100, then 50, then 100)\n", T, S);
  fflush(stdout);
  dg_cuda_use_graphs(eager, 0);
  dg_cuda_use_graphs(graph, 1);
  dg_dims d;
  dg_get_dims(dg_cuda_host_model(eager), &d);
  host_batch hb, hs;
  make_batch(&hb, &c, &d, 100, 3);
  make_batch(&hs, &c, &d, 50, 4);
  dg_losses le, lg;
  const dg_batch *seq[7] = {&hb.b, &hb.b, &hb.b, &hb.b, &hs.b, &hs.b, &hb.b};
  for (int i = 0; i < 7; i++) {
    int re = dg_cuda_train_step(eager, seq[i], 1, &le);
    CHECK(re == DG_OK, "eager iteration %d: %s", i + 1, dg_error_message());
    int rg = dg_cuda_train_step(graph, seq[i], 1, &lg);
    CHECK(rg == DG_OK, "graph iteration %d: %s", i + 1, dg_error_message());
    if (re || rg) break;
    compare_losses((std::string("graph replay vs eager, iteration ") + std::to_string(i + 1)).c_str(), &le, &lg, 1e-5);
  }
  dg_cuda_download(eager);
  dg_cuda_download(graph);
  dg_counters a, b;
  dg_get_counters(dg_cuda_host_model(eager), &a);
  dg_get_counters(dg_cuda_host_model(graph), &b);
  CHECK(memcmp(&a, &b, sizeof a) == 0, "graph replay advances the same counters");
  double worst = 0;
  dg_model *me = dg_cuda_host_model(eager), *mg = dg_cuda_host_model(graph);
  for (int i = 0; i < dg_tensor_count(me); i++) {
    dg_tensor_info ti;
    dg_tensor_info_at(me, i, &ti);
    worst = fmax(worst, rel_error(dg_tensor_data(mg, i), dg_tensor_data(me, i), ti.size));
  }
  CHECK(worst < 1e-5, "graph replay vs eager: state differs after 7 iterations, worst relative error %.3g", worst);
  printf("  graph replay vs eager: worst state difference %.3g\n", worst);
  free_batch(&hb);
  free_batch(&hs);
  dg_cuda_destroy(eager);
  dg_cuda_destroy(graph);
}

/* DP-SGD noise: one iteration with noise multiplier sigma against one without, from the same state and
 * batch; the critics' gradients (Adam m / (1 - beta1)) then differ by the noise alone: mean ~0,
 * standard deviation sigma C / B, fresh each iteration. */
static void test_dp_noise(void) {
  dg_config c = tiny_config();
  c.dp_clip_norm = 0.5f;
  c.dp_noise_multiplier = 1.5f;
  dg_config clean_config = c;
  clean_config.dp_noise_multiplier = 0.0f;
  dg_cuda *noisy, *clean;
  if (dg_cuda_create(&c, 9, &noisy) || dg_cuda_create(&clean_config, 9, &clean)) {
    CHECK(0, "DP noise: create: %s", dg_error_message());
    return;
  }
  printf("DP-SGD noise (tiny, sigma 1.5, C 0.5, batch 8)\n");
  dg_dims d;
  dg_get_dims(dg_cuda_host_model(noisy), &d);
  host_batch hb;
  int B = 8;
  make_batch(&hb, &c, &d, B, 11);
  dg_losses ln, lc;
  CHECK(dg_cuda_train_step(noisy, &hb.b, 1, &ln) == DG_OK && dg_cuda_train_step(clean, &hb.b, 1, &lc) == DG_OK, "DP noise: step: %s", dg_error_message());
  CHECK(ln.dp_clipped_fraction == lc.dp_clipped_fraction && ln.dp_grad_norm == lc.dp_grad_norm, "DP noise: the noise changed the clipping");
  dg_cuda_download(noisy);
  dg_cuda_download(clean);
  dg_layout L;
  dg_get_layout(dg_cuda_host_model(noisy), &L);
  const float *mn = dg_adam_m(dg_cuda_host_model(noisy)), *mc = dg_adam_m(dg_cuda_host_model(clean));
  double expected = (double)c.dp_noise_multiplier * c.dp_clip_norm / B;
  const int nets[2] = {DG_NET_CRITIC, DG_NET_AUX};
  size_t c0 = L.net_begin[DG_NET_CRITIC], nc = L.net_end[DG_NET_CRITIC] - c0;
  std::vector<double> first(nc);
  /* The noise of iteration `it`: both engines started it from the same Adam slots, so the first
   * moments differ by (1 - beta1) times the noise alone. */
  for (int it = 1; it <= 2; it++) {
    for (int k = 0; k < 2; k++) {
      size_t b0 = L.net_begin[nets[k]], n = L.net_end[nets[k]] - b0;
      double sum = 0, sq = 0, cross = 0;
      for (size_t i = b0; i < b0 + n; i++) {
        double z = (mn[i] - mc[i]) / (1.0 - c.adam_beta1);
        sum += z, sq += z * z;
        if (k == 0 && it == 1) first[i - b0] = z;
        if (k == 0 && it == 2) cross += z * first[i - b0];
      }
      double mean = sum / n, sd = sqrt(sq / n - mean * mean);
      /* sampling error of the standard deviation ~ 1 / sqrt(2n): 4.5 of those, plus float rounding */
      double allowed = 4.5 / sqrt(2.0 * n);
      const char *net = k ? "aux" : "main";
      CHECK(fabs(sd / expected - 1) < allowed, "DP noise (%s, iteration %d): standard deviation %.4g, expected %.4g (n %zu)", net, it, sd, expected, n);
      CHECK(fabs(mean) < 4.5 * expected / sqrt((double)n), "DP noise (%s, iteration %d): mean %.3g, expected ~0", net, it, mean);
      printf("  %s critic, iteration %d: noise sd %.4g (expected %.4g, %zu coordinates), mean %.2g\n", net, it, sd, expected, n, mean);
      if (k == 0 && it == 2) {
        /* fresh noise, never a buffer used twice: uncorrelated with the first iteration's */
        double correlation = cross / n / (expected * expected);
        CHECK(fabs(correlation) < 4.5 / sqrt((double)n), "DP noise: iterations 1 and 2 correlate (%.3f): noise reused?", correlation);
        printf("  main critic: correlation of the two iterations' noise %.3f\n", correlation);
      }
    }
    if (it == 2) break;
    /* Iteration 2 from the same state on both: the clean engine takes the noisy one's. */
    dg_copy_state(dg_cuda_host_model(clean), dg_cuda_host_model(noisy));
    dg_cuda_upload(clean);
    CHECK(dg_cuda_train_step(noisy, &hb.b, 1, &ln) == DG_OK && dg_cuda_train_step(clean, &hb.b, 1, &lc) == DG_OK, "DP noise: step 2: %s",
          dg_error_message());
    dg_cuda_download(noisy);
    dg_cuda_download(clean);
  }
  free_batch(&hb);
  dg_cuda_destroy(noisy);
  dg_cuda_destroy(clean);
}

/* dg_compare_dump_with's iteration on the GPU: m's state up, one eager iteration, the state and the
 * gradients back into m. */
static int cuda_iteration(void *ctx, dg_model *m, const dg_config *config, uint32_t seed, const dg_batch *batches, int n, dg_losses *out) {
  dg_cuda *g;
  int rc = dg_cuda_create(config, seed, &g);
  if (rc) return rc;
  dg_cuda_use_graphs(g, 0);
  dg_model *host = dg_cuda_host_model(g);
  dg_copy_state(host, m);
  if (!(rc = dg_cuda_upload(g)) && !(rc = dg_cuda_train_step(g, batches, n, out)) && !(rc = dg_cuda_download(g))) {
    dg_copy_state(m, host);
    dg_layout L;
    dg_get_layout(m, &L);
    memcpy(dg_grads(m), dg_grads(host), sizeof(float) * L.n_param_floats);
  }
  dg_cuda_destroy(g);
  return rc;
}

/* dp: DP-SGD with clip norm 1 and noise multiplier 1 (noise drawn on the host each iteration).
 * held: the batch is held on the device as the training set and each iteration sends its row numbers
 * (as `dg train` does); otherwise the batch is uploaded every iteration. */
/* dp: 0 off, 1 DP-SGD on fixed batches, 2 DP-SGD on Poisson-sampled batches (sizes 0.9B..1.1B around
 * the expected B, held rows: what `dg train --dp-epsilon` runs; graphs are off then). */
static void bench(const char *label, int T, int S, int B, int iterations, int graphs, int dp, int held = 0) {
  dg_config c = wwt_config(T, S, 1);
  if (dp) c.dp_clip_norm = c.dp_noise_multiplier = 1.0f;
  int poisson = dp == 2;
  if (poisson) c.dp_expected_batch = B, held = 1;
  int capacity = poisson ? 2 * B : B;
  dg_cuda *g;
  if (dg_cuda_create(&c, 1, &g)) {
    printf("%s: %s\n", label, dg_error_message());
    return;
  }
  dg_cuda_use_graphs(g, graphs);
  dg_dims d;
  dg_get_dims(dg_cuda_host_model(g), &d);
  float *attr = (float *)malloc(sizeof(float) * capacity * d.attribute), *add = (float *)malloc(sizeof(float) * capacity * 2);
  float *feat = (float *)malloc(sizeof(float) * (size_t)capacity * d.T * d.feature);
  dg_batch batch;
  fill_batch(&batch, capacity, &d, attr, add, feat);
  dg_losses l;
  int32_t *rows = (int32_t *)malloc(sizeof(int32_t) * capacity);
  for (int b = 0; b < capacity; b++) rows[b] = (int32_t)((7L * b + 3) % capacity);
  const int32_t *row_lists[1] = {rows};
  if (held && dg_cuda_hold_training_data(g, &batch)) {
    printf("%s: %s\n", label, dg_error_message());
    return;
  }
  const int warmup = 3;
  double t0 = 0;
  for (int i = 0; i < warmup + iterations; i++) {
    if (i == warmup) t0 = now_ms();
    int count = poisson ? B - B / 10 + (int)((7919L * i) % (B / 5 + 1)) : B;
    if (held ? dg_cuda_train_step_rows(g, row_lists, 1, count, &l) : dg_cuda_train_step(g, &batch, 1, &l)) {
      printf("%s: %s\n", label, dg_error_message());
      return;
    }
  }
  double t = (now_ms() - t0) / iterations;
  printf("%-24s batch %4d  %7.3f ms/iter  (%s%s%s)  D %.3f G %.3f\n", label, B, t, graphs && !poisson ? "graph" : "eager",
         dp == 2 ? ", DP-SGD on Poisson batches" : dp ? ", DP-SGD" : "", held ? ", held rows" : ", batch uploaded", l.critic, l.generator);
  free(rows);
  free(attr), free(add), free(feat);
  dg_cuda_destroy(g);
}

static void bench_generation(int n) {
  dg_config c = wwt_config(550, 10, 1);
  dg_cuda *g;
  if (dg_cuda_create(&c, 1, &g)) return;
  dg_dims d;
  dg_get_dims(dg_cuda_host_model(g), &d);
  float *attr = (float *)malloc(sizeof(float) * n * d.attribute), *add = (float *)malloc(sizeof(float) * n * 2);
  float *feat = (float *)malloc(sizeof(float) * (size_t)n * d.T * d.feature);
  int32_t *len = (int32_t *)malloc(sizeof(int32_t) * n);
  dg_cuda_generate(g, 1000, NULL, NULL, attr, add, feat, len);
  double t0 = now_ms();
  int rc = dg_cuda_generate(g, n, NULL, NULL, attr, add, feat, len);
  double t = now_ms() - t0;
  if (rc)
    printf("generation: %s\n", dg_error_message());
  else
    printf("generate WWT-shaped       %d series in %.1f ms: %.0f series/s\n", n, t, n / (t / 1e3));
  free(attr), free(add), free(feat), free(len);
  dg_cuda_destroy(g);
}

int main(int argc, char **argv) {
  /* --quick (tests only): the WWT-shaped model generates 1001 series instead of 2500 (still two noise
   * blocks), DP clipping runs on the tiny model only (with a wide critic) and graph replay on the short
   * config: the same code paths in a fifth of the work, for the CPU emulator (cuda_emu/), where the
   * LSTM's 55 steps are slow. */
  int run_tests = 1, run_bench = 1, quick = 0;
  const char *dump = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--compare") == 0 && i + 1 < argc) dump = argv[++i], run_tests = run_bench = 0;
    else if (strcmp(argv[i], "--test") == 0) run_bench = 0;
    else if (strcmp(argv[i], "--bench") == 0) run_tests = 0;
    else if (strcmp(argv[i], "--quick") == 0) quick = 1, run_bench = 0;
    else {
      printf("usage: test_dg_cuda [--test [--quick] | --bench | --compare DUMP]\n");
      return 2;
    }
  }
  /* Exit 0 only where there is no GPU to test: no NVIDIA driver at all, or no device. A driver too old
   * for this build, or any other error, fails (exit 2) so a GPU session cannot mistake it for a pass. */
  int devices = 0;
  cudaError_t e = cudaGetDeviceCount(&devices);
  void *libcuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (libcuda) dlclose(libcuda);
  if ((e == cudaErrorInsufficientDriver && !libcuda) || e == cudaErrorNoDevice || (e == cudaSuccess && devices == 0)) {
    dg_cuda_available();
    printf("no GPU (%s): nothing to test\n", dg_error_message());
    return 0;
  }
  if (e != cudaSuccess) {
    printf("FAIL: cudaGetDeviceCount: %s\n", cudaGetErrorString(e));
    return 2;
  }
  /* A GPU that the core cannot use (cuBLAS missing, no code for this architecture) is a failure here. */
  if (dg_cuda_available() != DG_OK) {
    printf("FAIL: a GPU is present but the CUDA core cannot use it: %s\n", dg_error_message());
    return 2;
  }
  char name[256];
  if (dg_cuda_device_name(name, sizeof name) == DG_OK) printf("device: %s\n", name);
  if (dump) {
    /* A reference-engine dump (tests/fixtures/reference-dumps.ts): rerun its iteration on the GPU and
     * compare every tensor within 1e-4, as test_dg --compare does for the CPU core. */
    setenv("DG_CUDA_DEBUG", "1", 0);
    int mismatched = dg_compare_dump_with(dump, 1e-4, 1, cuda_iteration, NULL);
    if (mismatched < 0) printf("FAIL: %s: %s\n", dump, dg_error_message());
    return mismatched == 0 ? 0 : 1;
  }
  if (run_tests) {
    /* Eager runs synchronize after each stage and name the first failing one (see dg_cuda.cu, stage()). */
    setenv("DG_CUDA_DEBUG", "1", 0);
    test_against_cpu("tiny", tiny_config(), 6, 2500);
    /* Training batches over 132 rows put several rows in each block of the LSTM kernels (here 3, the
     * last block 1): the BPTT's multi-row path, which generation (1,000-row chunks) does not reach.
     * 30 noise inputs per step on 3 rows outnumber the block's 64 threads: the forward's path that
     * copies them without prefetching. */
    dg_config wide_noise = tiny_config();
    wide_noise.feature_noise_dim = 30;
    test_against_cpu("tiny, 3 rows per LSTM block, 30 noise inputs", wide_noise, 301, 1001);
    /* 8 rows of 160 units are more than 2 per thread of the kernel's 512: the BPTT's path that loads
     * each step's inputs when it needs them. */
    dg_config wide_lstm = tiny_config();
    wide_lstm.lstm_units = 160;
    test_against_cpu("tiny, LSTM 160 units, 8 rows per block", wide_lstm, 925, 925);
    dg_config two = tiny_config();
    two.critic_steps = 2;
    test_against_cpu("tiny, 2 critic steps", two, 6, 2500);
    test_against_cpu("tiny, 2 critic steps on one batch", two, 6, 7, 1);
    dg_config wwt = wwt_config(550, 10, 2);
    /* DP-SGD clipping without noise is deterministic: the same comparison (clip norms that clip part of
     * the examples; 2 critic steps, so clipping meets the per-step statistics reset too). */
    dg_config dp = tiny_config();
    dp.critic_steps = 2;
    dp.dp_clip_norm = 18.0f;
    dp.critic_hidden[0] = 200; /* wider than a norm block's 128 threads */
    dp.critic_hidden[1] = 150;
    test_against_cpu("tiny, wide critic, DP clipping", dp, 8, 2500);
    /* Poisson-sampled DP batches: gradients over the expected batch size, a generator step of that
     * many fake series, more (11) and fewer (5) than the batch's 8 rows. */
    dg_config poisson = dp;
    poisson.dp_expected_batch = 11;
    test_against_cpu("tiny, DP clipping, expected batch 11", poisson, 8, 7, 1);
    poisson.dp_expected_batch = 5;
    test_against_cpu("tiny, DP clipping, expected batch 5", poisson, 8, 7, 1);
    test_dp_noise();
    test_against_cpu("WWT-shaped", wwt, 100, quick ? 1001 : 2500);
    if (!quick) {
      dg_config wwt_dp = wwt;
      wwt_dp.dp_clip_norm = 22.0f;
      test_against_cpu("WWT-shaped, DP clipping", wwt_dp, 100, 2500);
    }
    test_held_rows();
    test_held_rows(1);
    if (quick)
      test_graph_replay(50, 5);
    else
      test_graph_replay(550, 10);
    printf("%d passed, %d failed%s\n", checks - failures, failures, failures > MAX_SHOWN ? " (only the first failures are shown)" : "");
    unsetenv("DG_CUDA_DEBUG");
  }
  if (run_bench) {
    bench("WWT-shaped T=550 S=10", 550, 10, 100, 50, 1, 0);
    bench("WWT-shaped T=550 S=10", 550, 10, 100, 50, 1, 0, 1);
    bench("WWT-shaped T=550 S=10", 550, 10, 100, 20, 0, 0);
    bench("short T=50 S=5", 50, 5, 100, 100, 1, 0);
    bench("WWT-shaped T=550 S=10", 550, 10, 1024, 20, 1, 0);
    bench("WWT-shaped T=550 S=10", 550, 10, 1024, 20, 1, 0, 1);
    bench("short T=50 S=5", 50, 5, 1024, 50, 1, 0);
    bench("WWT-shaped T=550 S=10", 550, 10, 100, 20, 1, 1);
    bench("WWT-shaped T=550 S=10", 550, 10, 100, 20, 0, 2);
    /* Where the time goes: eager runs with every stage waited for (slower than the figures above; the
     * table goes to stderr when the model is destroyed). */
    setenv("DG_CUDA_PROFILE", "1", 1);
    bench("profiled WWT-shaped", 550, 10, 100, 10, 0, 0);
    bench("profiled WWT-shaped", 550, 10, 1024, 5, 0, 0);
    unsetenv("DG_CUDA_PROFILE");
    bench_generation(20000);
  }
  return failures ? 1 : 0;
}
