/*
 * One training iteration as a tensor dump, and the comparison of a dump against a rerun of this core.
 * The names are listed in README.md ("Dump contents"); any engine that writes them can be checked
 * against this one tensor by tensor.
 */
#include "dg_dump.h"
#include "dg_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  dg_dump_tensor *t;
  int n, cap, failed;
} dump_list;

static void push(dump_list *l, const char *name, int ndim, const int *dims, const float *data) {
  if (l->failed) return;
  if (l->n == l->cap) {
    int cap = l->cap ? 2 * l->cap : 64;
    dg_dump_tensor *t = realloc(l->t, sizeof(dg_dump_tensor) * cap);
    if (!t) {
      l->failed = 1;
      return;
    }
    l->t = t;
    l->cap = cap;
  }
  dg_dump_tensor *t = &l->t[l->n];
  memset(t, 0, sizeof *t);
  t->ndim = ndim;
  t->size = 1;
  for (int k = 0; k < ndim; k++) {
    t->dims[k] = dims[k];
    t->size *= (size_t)dims[k];
  }
  t->name = strdup(name);
  t->data = malloc(sizeof(float) * (t->size ? t->size : 1));
  if (!t->name || !t->data) {
    free(t->name);
    free(t->data);
    l->failed = 1;
    return;
  }
  if (t->size) memcpy(t->data, data, sizeof(float) * t->size);
  l->n++;
}

static void push_1d(dump_list *l, const char *name, int n, const float *data) { push(l, name, 1, &n, data); }
static void push_scalar(dump_list *l, const char *name, float v) { push_1d(l, name, 1, &v); }
static void push_ints(dump_list *l, const char *name, int n, const int *v) {
  float f[DG_MAX_LAYERS];
  for (int i = 0; i < n; i++) f[i] = (float)v[i];
  push_1d(l, name, n, f);
}
static void push_vars(dump_list *l, const char *name, int n, const dg_var *v) {
  float *f = malloc(sizeof(float) * 2 * (n ? n : 1));
  if (!f) {
    l->failed = 1;
    return;
  }
  for (int i = 0; i < n; i++) {
    f[2 * i] = (float)v[i].dim;
    f[2 * i + 1] = (float)v[i].activation;
  }
  int dims[2] = {n, 2};
  push(l, name, 2, dims, f);
  free(f);
}

/* 64-bit counters as [hi, lo] with lo < 2^24: exact in float32 up to 2^48. */
static void push_counters(dump_list *l, const char *name, const dg_counters *c) {
  uint64_t v[4] = {(uint64_t)c->generator_step, (uint64_t)c->critic_step, (uint64_t)c->aux_critic_step, c->noise_position};
  float f[8];
  for (int i = 0; i < 4; i++) {
    f[2 * i] = (float)(v[i] >> 24);
    f[2 * i + 1] = (float)(v[i] & 0xffffff);
  }
  int dims[2] = {4, 2};
  push(l, name, 2, dims, f);
}

static void push_state(dump_list *l, dg_model *m, const char *prefix) {
  char name[200];
  for (int i = 0; i < dg_tensor_count(m); i++) {
    dg_tensor_info info;
    dg_tensor_info_at(m, i, &info);
    snprintf(name, sizeof name, "%s/%s", prefix, info.name);
    push(l, name, info.ndim, info.shape, dg_tensor_data(m, i));
  }
  dg_counters c;
  dg_get_counters(m, &c);
  snprintf(name, sizeof name, "%s/counters", prefix);
  push_counters(l, name, &c);
}

static void push_grads(dump_list *l, dg_model *m, const char *prefix, int generator) {
  char name[200];
  for (int i = 0; i < dg_tensor_count(m); i++) {
    dg_tensor_info info;
    dg_tensor_info_at(m, i, &info);
    if (info.kind != DG_TENSOR_PARAM || (info.network == DG_NET_GENERATOR) != generator) continue;
    snprintf(name, sizeof name, "%s/%s", prefix, info.name);
    push(l, name, info.ndim, info.shape, dg_grads(m) + dg_param_offset(m, i));
  }
}

/* The first critic step's fake batch, cut out of the critic's input rows [B, 2B). */
static void push_fake(dump_list *l, dg_model *m, int B) {
  dg_dims d;
  dg_get_dims(m, &d);
  int TF = d.T * d.feature, w0 = d.critic_input;
  const float *X = dg_debug_critic_input(m) + (size_t)B * w0;
  float *feat = malloc(sizeof(float) * B * (size_t)TF), *attr = malloc(sizeof(float) * B * (size_t)d.attribute);
  float *add = malloc(sizeof(float) * B * (size_t)(d.additional ? d.additional : 1));
  if (!feat || !attr || !add) {
    l->failed = 1;
  } else {
    for (int b = 0; b < B; b++) {
      memcpy(feat + (size_t)b * TF, X + (size_t)b * w0, sizeof(float) * TF);
      memcpy(attr + (size_t)b * d.attribute, X + (size_t)b * w0 + TF, sizeof(float) * d.attribute);
      memcpy(add + (size_t)b * d.additional, X + (size_t)b * w0 + TF + d.attribute, sizeof(float) * d.additional);
    }
    int fd[3] = {B, d.T, d.feature}, ad[2] = {B, d.attribute}, md[2] = {B, d.additional};
    push(l, "critic0/fake/features", 3, fd, feat);
    push(l, "critic0/fake/attributes", 2, ad, attr);
    push(l, "critic0/fake/additionalAttributes", 2, md, add);
    push_1d(l, "critic0/a", B, dg_debug_interpolation(m, 0));
    if (d.has_aux) push_1d(l, "critic0/aAux", B, dg_debug_interpolation(m, 1));
  }
  free(feat);
  free(attr);
  free(add);
}

static void losses_array(const dg_losses *l, float out[6]) {
  out[0] = l->critic;
  out[1] = l->aux_critic;
  out[2] = l->gradient_penalty;
  out[3] = l->aux_gradient_penalty;
  out[4] = l->generator;
  out[5] = l->wasserstein_distance;
}

static void push_config(dump_list *l, const dg_config *c, uint32_t seed) {
  push_scalar(l, "config/maxLength", (float)c->max_length);
  push_scalar(l, "config/sampleLen", (float)c->sample_len);
  push_scalar(l, "config/genFlags", (float)c->gen_flags);
  push_vars(l, "config/attributes", c->n_attributes, c->attributes);
  push_vars(l, "config/additionalAttributes", c->n_additional, c->additional);
  push_vars(l, "config/features", c->n_features, c->features);
  push_scalar(l, "config/attributeNoiseDim", (float)c->attribute_noise_dim);
  push_scalar(l, "config/minMaxNoiseDim", (float)c->minmax_noise_dim);
  push_scalar(l, "config/featureNoiseDim", (float)c->feature_noise_dim);
  push_ints(l, "config/attributeHidden", c->n_attribute_hidden, c->attribute_hidden);
  push_ints(l, "config/minMaxHidden", c->n_minmax_hidden, c->minmax_hidden);
  push_scalar(l, "config/lstmUnits", (float)c->lstm_units);
  push_ints(l, "config/criticHidden", c->n_critic_hidden, c->critic_hidden);
  push_ints(l, "config/auxCriticHidden", c->n_aux_hidden, c->aux_hidden);
  push_scalar(l, "config/auxCriticWeight", c->aux_critic_weight);
  push_scalar(l, "config/gradientPenaltyWeight", c->gradient_penalty_weight);
  push_scalar(l, "config/generatorLearningRate", c->generator_lr);
  push_scalar(l, "config/criticLearningRate", c->critic_lr);
  push_scalar(l, "config/auxCriticLearningRate", c->aux_critic_lr);
  push_scalar(l, "config/adamBeta1", c->adam_beta1);
  push_scalar(l, "config/adamBeta2", c->adam_beta2);
  push_scalar(l, "config/criticSteps", (float)c->critic_steps);
  push_scalar(l, "config/batchNormMomentum", c->batch_norm_momentum);
  float s[2] = {(float)(seed >> 16), (float)(seed & 0xffff)};
  push_1d(l, "seed", 2, s);
}

static void free_list(dump_list *l) {
  dg_dump d = {l->n, l->t};
  dg_dump_free(&d);
}

int dg_dump_iteration(dg_model *m, const dg_config *c, uint32_t seed, const dg_batch *batches, int n_batches, const char *path) {
  dump_list l = {0};
  dg_dims d;
  dg_get_dims(m, &d);
  int rc;
  if (n_batches < c->critic_steps) return dg_fail(DG_ERR_ARG, "an iteration takes %d batches", c->critic_steps);
  push_config(&l, c, seed);
  push_state(&l, m, "init");
  char name[64];
  for (int k = 0; k < c->critic_steps; k++) {
    const dg_batch *b = &batches[k];
    int ad[2] = {b->size, d.attribute}, md[2] = {b->size, d.additional}, fd[3] = {b->size, d.T, d.feature};
    snprintf(name, sizeof name, "batch%d/attributes", k);
    push(&l, name, 2, ad, b->attributes);
    snprintf(name, sizeof name, "batch%d/additionalAttributes", k);
    push(&l, name, 2, md, b->additional);
    snprintf(name, sizeof name, "batch%d/features", k);
    push(&l, name, 3, fd, b->features);
  }
  dg_losses losses;
  if ((rc = dg_debug_critic_grads(m, &batches[0], &losses))) goto out;
  push_fake(&l, m, batches[0].size);
  push_grads(&l, m, "critic0/grad", 0);
  float la[6];
  losses_array(&losses, la);
  push_1d(&l, "critic0/losses", 4, la); /* critic, auxCritic, gradientPenalty, auxGradientPenalty */
  if ((rc = dg_train_step(m, batches, n_batches, &losses))) goto out;
  losses_array(&losses, la);
  push_1d(&l, "losses", 6, la);
  push_grads(&l, m, "generator/grad", 1);
  push_state(&l, m, "final");
  if (l.failed) {
    rc = dg_fail(DG_ERR_ALLOC, "out of memory building the dump");
    goto out;
  }
  rc = dg_dump_write(path, l.t, l.n);
out:
  free_list(&l);
  return rc;
}

/* ---------------------------------------------------------------- comparison */

static int scalar(const dg_dump *d, const char *name, double *out) {
  const dg_dump_tensor *t = dg_dump_find(d, name);
  if (!t || t->size != 1) return dg_fail(DG_ERR_IO, "the dump has no scalar '%s'", name);
  *out = t->data[0];
  return DG_OK;
}

static int int_list(const dg_dump *d, const char *name, int *out, int *n) {
  const dg_dump_tensor *t = dg_dump_find(d, name);
  if (!t || t->ndim != 1 || t->size > DG_MAX_LAYERS) return dg_fail(DG_ERR_IO, "the dump has no layer list '%s'", name);
  *n = (int)t->size;
  for (size_t i = 0; i < t->size; i++) out[i] = (int)t->data[i];
  return DG_OK;
}

static int var_list(const dg_dump *d, const char *name, dg_var **out, int *n) {
  const dg_dump_tensor *t = dg_dump_find(d, name);
  if (!t || t->ndim != 2 || t->dims[1] != 2) return dg_fail(DG_ERR_IO, "the dump has no variable list '%s' [n, 2]", name);
  *n = t->dims[0];
  *out = calloc(*n ? *n : 1, sizeof(dg_var));
  if (!*out) return dg_fail(DG_ERR_ALLOC, "out of memory");
  for (int i = 0; i < *n; i++) {
    (*out)[i].dim = (int)t->data[2 * i];
    (*out)[i].activation = (int)t->data[2 * i + 1];
  }
  return DG_OK;
}

typedef struct {
  dg_config c;
  dg_var *vars[3];
  uint32_t seed;
} dumped_config;

static int read_config(const dg_dump *d, dumped_config *dc) {
  dg_config *c = &dc->c;
  memset(dc, 0, sizeof *dc);
  double v = 0.0;
  int rc = 0;
#define GET(name, field)                                      \
  if (!rc && !(rc = scalar(d, "config/" name, &v))) c->field = v;
  GET("maxLength", max_length);
  GET("sampleLen", sample_len);
  GET("genFlags", gen_flags);
  GET("attributeNoiseDim", attribute_noise_dim);
  GET("minMaxNoiseDim", minmax_noise_dim);
  GET("featureNoiseDim", feature_noise_dim);
  GET("lstmUnits", lstm_units);
  GET("auxCriticWeight", aux_critic_weight);
  GET("gradientPenaltyWeight", gradient_penalty_weight);
  GET("generatorLearningRate", generator_lr);
  GET("criticLearningRate", critic_lr);
  GET("auxCriticLearningRate", aux_critic_lr);
  GET("adamBeta1", adam_beta1);
  GET("adamBeta2", adam_beta2);
  GET("criticSteps", critic_steps);
  GET("batchNormMomentum", batch_norm_momentum);
#undef GET
  if (!rc) rc = int_list(d, "config/attributeHidden", c->attribute_hidden, &c->n_attribute_hidden);
  if (!rc) rc = int_list(d, "config/minMaxHidden", c->minmax_hidden, &c->n_minmax_hidden);
  if (!rc) rc = int_list(d, "config/criticHidden", c->critic_hidden, &c->n_critic_hidden);
  if (!rc) rc = int_list(d, "config/auxCriticHidden", c->aux_hidden, &c->n_aux_hidden);
  if (!rc) rc = var_list(d, "config/attributes", &dc->vars[0], &c->n_attributes);
  if (!rc) rc = var_list(d, "config/additionalAttributes", &dc->vars[1], &c->n_additional);
  if (!rc) rc = var_list(d, "config/features", &dc->vars[2], &c->n_features);
  c->attributes = dc->vars[0];
  c->additional = dc->vars[1];
  c->features = dc->vars[2];
  const dg_dump_tensor *s = dg_dump_find(d, "seed");
  if (!rc && (!s || s->size != 2)) rc = dg_fail(DG_ERR_IO, "the dump has no seed [2]");
  if (!rc) dc->seed = (uint32_t)s->data[0] << 16 | (uint32_t)s->data[1];
  return rc;
}

typedef struct {
  double tolerance;
  int verbose, compared, mismatched;
  double worst;
  char worst_name[200];
} comparison;

static void compare(comparison *cmp, const dg_dump *d, const char *name, const float *ours, size_t size) {
  const dg_dump_tensor *t = dg_dump_find(d, name);
  if (!t) return;
  if (t->size != size) {
    cmp->mismatched++;
    printf("MISMATCH %-48s size %zu here, %zu in the dump\n", name, size, t->size);
    return;
  }
  double diff = 0.0, scale = 0.0;
  for (size_t i = 0; i < size; i++) {
    diff = fmax(diff, fabs((double)ours[i] - t->data[i]));
    scale = fmax(scale, fabs((double)t->data[i]));
  }
  double rel = scale > 0 ? diff / scale : diff;
  int ok = rel < cmp->tolerance || diff < 1e-7;
  cmp->compared++;
  if (!ok) cmp->mismatched++;
  if (rel > cmp->worst) {
    cmp->worst = rel;
    snprintf(cmp->worst_name, sizeof cmp->worst_name, "%s", name);
  }
  if (cmp->verbose || !ok) printf("%s %-56s max|diff| %.3g  max|ref| %.3g  rel %.3g\n", ok ? "ok      " : "MISMATCH", name, diff, scale, rel);
}

static void counters_array(const dg_counters *c, float f[8]) {
  uint64_t v[4] = {(uint64_t)c->generator_step, (uint64_t)c->critic_step, (uint64_t)c->aux_critic_step, c->noise_position};
  for (int i = 0; i < 4; i++) {
    f[2 * i] = (float)(v[i] >> 24);
    f[2 * i + 1] = (float)(v[i] & 0xffffff);
  }
}

static void compare_state(comparison *cmp, const dg_dump *d, dg_model *m, const char *prefix) {
  char name[200];
  for (int i = 0; i < dg_tensor_count(m); i++) {
    dg_tensor_info info;
    dg_tensor_info_at(m, i, &info);
    snprintf(name, sizeof name, "%s/%s", prefix, info.name);
    compare(cmp, d, name, dg_tensor_data(m, i), info.size);
  }
  dg_counters c;
  float f[8];
  dg_get_counters(m, &c);
  counters_array(&c, f);
  snprintf(name, sizeof name, "%s/counters", prefix);
  compare(cmp, d, name, f, 8);
}

static void compare_grads(comparison *cmp, const dg_dump *d, dg_model *m, const char *prefix, int generator) {
  char name[200];
  for (int i = 0; i < dg_tensor_count(m); i++) {
    dg_tensor_info info;
    dg_tensor_info_at(m, i, &info);
    if (info.kind != DG_TENSOR_PARAM || (info.network == DG_NET_GENERATOR) != generator) continue;
    snprintf(name, sizeof name, "%s/%s", prefix, info.name);
    compare(cmp, d, name, dg_grads(m) + dg_param_offset(m, i), info.size);
  }
}

int dg_compare_dump(const char *path, double tolerance, int verbose) { return dg_compare_dump_with(path, tolerance, verbose, NULL, NULL); }

int dg_compare_dump_with(const char *path, double tolerance, int verbose, dg_iteration_fn run, void *ctx) {
  dg_dump d;
  dumped_config dc;
  dg_model *m = NULL;
  dg_batch batches[16];
  int result = -1;
  if (dg_dump_read(path, &d)) {
    fprintf(stderr, "%s\n", dg_error_message());
    return -1;
  }
  if (read_config(&d, &dc) || dg_create(&dc.c, dc.seed, &m)) {
    fprintf(stderr, "cannot rebuild the model: %s\n", dg_error_message());
    goto out;
  }
  comparison cmp = {tolerance, verbose, 0, 0, 0.0, ""};
  dg_dims dims;
  dg_get_dims(m, &dims);
  /* Our own initialization against theirs, then theirs replaces ours so the rest compares the math. */
  char name[200];
  for (int i = 0; i < dg_tensor_count(m); i++) {
    dg_tensor_info info;
    dg_tensor_info_at(m, i, &info);
    snprintf(name, sizeof name, "init/%s", info.name);
    compare(&cmp, &d, name, dg_tensor_data(m, i), info.size);
    const dg_dump_tensor *t = dg_dump_find(&d, name);
    if (t && t->size == info.size) memcpy(dg_tensor_data(m, i), t->data, sizeof(float) * info.size);
  }
  const dg_dump_tensor *ct = dg_dump_find(&d, "init/counters");
  if (ct && ct->size == 8) {
    dg_counters c = {(int64_t)ct->data[0] << 24 | (int64_t)ct->data[1], (int64_t)ct->data[2] << 24 | (int64_t)ct->data[3],
                     (int64_t)ct->data[4] << 24 | (int64_t)ct->data[5], (uint64_t)ct->data[6] << 24 | (uint64_t)ct->data[7]};
    dg_set_counters(m, &c);
  }
  int steps = dc.c.critic_steps;
  if (steps > 16) {
    fprintf(stderr, "at most 16 critic steps\n");
    goto out;
  }
  for (int k = 0; k < steps; k++) {
    const dg_dump_tensor *a, *ad, *f;
    snprintf(name, sizeof name, "batch%d/attributes", k);
    a = dg_dump_find(&d, name);
    snprintf(name, sizeof name, "batch%d/additionalAttributes", k);
    ad = dg_dump_find(&d, name);
    snprintf(name, sizeof name, "batch%d/features", k);
    f = dg_dump_find(&d, name);
    if (!a || !f || a->ndim != 2 || a->dims[1] != dims.attribute || f->size != (size_t)a->dims[0] * dims.T * dims.feature ||
        (dims.additional && (!ad || ad->size != (size_t)a->dims[0] * dims.additional))) {
      fprintf(stderr, "batch%d is missing or has the wrong shape\n", k);
      goto out;
    }
    batches[k].size = a->dims[0];
    batches[k].attributes = a->data;
    batches[k].additional = ad ? ad->data : NULL;
    batches[k].features = f->data;
  }
  dg_losses l;
  float la[6];
  if (run) {
    if (run(ctx, m, &dc.c, dc.seed, batches, steps, &l)) {
      fprintf(stderr, "the iteration failed: %s\n", dg_error_message());
      goto out;
    }
    if (steps == 1) { /* the critic's gradients and losses are the one critic step's */
      compare_grads(&cmp, &d, m, "critic0/grad", 0);
      losses_array(&l, la);
      compare(&cmp, &d, "critic0/losses", la, 4);
    }
    goto compare_final;
  }
  if (dg_debug_critic_grads(m, &batches[0], &l)) {
    fprintf(stderr, "critic step failed: %s\n", dg_error_message());
    goto out;
  }
  {
    /* Reuse the dump writer's cutting of the fake batch, then compare. */
    dump_list fake = {0};
    push_fake(&fake, m, batches[0].size);
    for (int i = 0; i < fake.n; i++) compare(&cmp, &d, fake.t[i].name, fake.t[i].data, fake.t[i].size);
    free_list(&fake);
  }
  compare_grads(&cmp, &d, m, "critic0/grad", 0);
  losses_array(&l, la);
  compare(&cmp, &d, "critic0/losses", la, 4);
  if (dg_train_step(m, batches, steps, &l)) {
    fprintf(stderr, "train step failed: %s\n", dg_error_message());
    goto out;
  }
compare_final:
  losses_array(&l, la);
  compare(&cmp, &d, "losses", la, 6);
  compare_grads(&cmp, &d, m, "generator/grad", 1);
  compare_state(&cmp, &d, m, "final");
  printf("compared %d tensors, %d mismatched (tolerance %g); worst %s at %.3g\n", cmp.compared, cmp.mismatched, tolerance, cmp.worst_name, cmp.worst);
  result = cmp.mismatched;
out:
  dg_destroy(m);
  for (int i = 0; i < 3; i++) free(dc.vars[i]);
  dg_dump_free(&d);
  return result;
}
