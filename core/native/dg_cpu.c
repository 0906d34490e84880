/*
 * The DoppelGANger model on the CPU: parameter layout and initialization (params.ts), the generator
 * (attribute MLP, min/max MLP, LSTM with S-step heads, gen-flag mask), the WGAN-GP critic step, the
 * generator step, generation and state access. Layers are in dg_layers.c.
 */
#include "dg_internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sched.h>
#endif

/* ---------------------------------------------------------------- errors */

static _Thread_local char error_message[512];

int dg_fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(error_message, sizeof error_message, fmt, ap);
  va_end(ap);
  return code;
}

const char *dg_error_message(void) { return error_message; }

/* ---------------------------------------------------------------- model */

#define GEN_CHUNK 500       /* rows per generation pass: big enough for efficient GEMMs, small in memory */
#define NOISE_BLOCK 1000    /* generation draws its noise per block of this many series, as reference.ts does */

typedef struct {
  char name[112];
  int ndim;
  int shape[2];
  size_t size;
  size_t offset; /* into params/grads/m/v for parameters and Adam slots, into buffers for buffers */
  int kind;
  int network;
  int init; /* parameters: INIT_* */
} tensor_entry;

enum { INIT_GLOROT, INIT_ZEROS, INIT_ONES, INIT_FORGET_BIAS };

/* A generator MLP: (dense -> batch norm -> ReLU) per hidden layer, then dense -> heads. */
typedef struct {
  int n_hidden;
  int width[DG_MAX_LAYERS + 2]; /* width[0] input, width[n_hidden+1] output */
  size_t kernel[DG_MAX_LAYERS + 1], bias[DG_MAX_LAYERS + 1], gamma[DG_MAX_LAYERS], beta[DG_MAX_LAYERS];
  size_t moving_mean[DG_MAX_LAYERS], moving_var[DG_MAX_LAYERS];
  const dg_var *vars;
  int n_vars;
} gen_mlp;

typedef struct {
  int n_hidden;
  int width[DG_MAX_LAYERS + 2];
  size_t kernel[DG_MAX_LAYERS + 1], bias[DG_MAX_LAYERS + 1];
} critic_layout;

/* One pass of a generator MLP. */
typedef struct {
  float *input;                                          /* [rows, width0] */
  float *xhat[DG_MAX_LAYERS], *act[DG_MAX_LAYERS];       /* [rows, w] */
  float *mean[DG_MAX_LAYERS], *var[DG_MAX_LAYERS], *invstd[DG_MAX_LAYERS];
  float *out;                                            /* [rows, out] activated */
} mlp_ws;

/* One generator pass over `rows` examples, and the scratch its backward needs. */
typedef struct {
  int rows;
  float *za, *zm, *zf_batch_major;
  mlp_ws attr, minmax;
  float *xam;                  /* [rows, A+M]: the LSTM's constant input */
  float *base;                 /* [rows, 4H] = xam K_am + b */
  float *xh;                   /* [steps + 1, rows, nf + H]: per step [z_j, h_{j-1}] (dg_lstm_forward) */
  float *packed;               /* the LSTM kernel packed for the GEMM */
  float *gates, *c, *tc;       /* [steps, rows, 4H | H] */
  float *y;                    /* [steps * rows, S*F] activated feature heads */
  float *mask;                 /* [rows, T] */
  int32_t *lengths;            /* [rows] */
  float *dy, *dh, *dh_rec, *dc, *dgsum, *dA, *dM, *d1, *d2;
} gen_ws;

struct dg_model {
  dg_config cfg;
  dg_var *var_storage;
  const dg_var *attr_vars, *add_vars, *feat_vars;
  dg_dims d;
  int H;
  gen_mlp attr, minmax;
  int has_minmax;
  size_t lstm_kernel, lstm_bias, feat_kernel, feat_bias;
  critic_layout critic, aux;

  tensor_entry *tensors;
  int n_tensors, n_params, n_buffers;
  float *params, *grads, *adam_m, *adam_v, *buffers;
  size_t n_param_floats, n_buffer_floats;
  size_t net_begin[3], net_end[3];

  int64_t step[3];
  uint32_t seed;
  uint64_t noise_position;
  dg_pool *pool;

  /* Workspaces, grown on demand. */
  int gen_capacity, critic_capacity;
  void *gen_memory, *critic_memory;
  size_t gen_bytes, critic_bytes;
  gen_ws gen;
  dg_critic_ws main_ws, aux_ws;
  float *a_main, *a_aux;
  int32_t *partner; /* DP-SGD on Poisson batches: each real example's fake series (pair_examples) */

  /* Tests only: fixed values for the stop-gradient copies of A and M (what the min/max MLP and the
   * LSTM read), so finite differences see the same function the gradients describe. */
  const float *frozen_attr, *frozen_add;
};

/* ---------------------------------------------------------------- parameter table */

typedef struct {
  dg_model *m;
  int failed;
  int capacity;
} table_builder;

static size_t add_tensor(table_builder *tb, int kind, int network, int init, int rows, int cols, const char *fmt, ...) {
  dg_model *m = tb->m;
  if (m->n_tensors == tb->capacity) {
    int cap = tb->capacity ? 2 * tb->capacity : 64;
    tensor_entry *t = realloc(m->tensors, sizeof(tensor_entry) * cap);
    if (!t) {
      tb->failed = 1;
      return 0;
    }
    m->tensors = t;
    tb->capacity = cap;
  }
  tensor_entry *e = &m->tensors[m->n_tensors++];
  memset(e, 0, sizeof *e);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->name, sizeof e->name, fmt, ap);
  va_end(ap);
  e->ndim = cols > 0 ? 2 : 1;
  e->shape[0] = rows;
  e->shape[1] = cols > 0 ? cols : 0;
  e->size = (size_t)rows * (cols > 0 ? cols : 1);
  e->kind = kind;
  e->network = network;
  e->init = init;
  if (kind == DG_TENSOR_PARAM) {
    e->offset = m->n_param_floats;
    m->n_param_floats += e->size;
  } else if (kind == DG_TENSOR_BUFFER) {
    e->offset = m->n_buffer_floats;
    m->n_buffer_floats += e->size;
  } /* Adam slots: the caller points them at their parameter's offset */
  return e->offset;
}

static void add_gen_mlp(table_builder *tb, gen_mlp *mlp, const char *prefix, int input, const int *hidden, int n_hidden, int output) {
  mlp->n_hidden = n_hidden;
  mlp->width[0] = input;
  for (int i = 0; i < n_hidden; i++) mlp->width[i + 1] = hidden[i];
  mlp->width[n_hidden + 1] = output;
  for (int i = 0; i < n_hidden; i++) {
    mlp->kernel[i] = add_tensor(tb, DG_TENSOR_PARAM, DG_NET_GENERATOR, INIT_GLOROT, mlp->width[i], mlp->width[i + 1], "%s.dense%d.kernel", prefix, i);
    mlp->bias[i] = add_tensor(tb, DG_TENSOR_PARAM, DG_NET_GENERATOR, INIT_ZEROS, mlp->width[i + 1], 0, "%s.dense%d.bias", prefix, i);
    mlp->gamma[i] = add_tensor(tb, DG_TENSOR_PARAM, DG_NET_GENERATOR, INIT_ONES, mlp->width[i + 1], 0, "%s.bn%d.gamma", prefix, i);
    mlp->beta[i] = add_tensor(tb, DG_TENSOR_PARAM, DG_NET_GENERATOR, INIT_ZEROS, mlp->width[i + 1], 0, "%s.bn%d.beta", prefix, i);
  }
  mlp->kernel[n_hidden] = add_tensor(tb, DG_TENSOR_PARAM, DG_NET_GENERATOR, INIT_GLOROT, mlp->width[n_hidden], output, "%s.out.kernel", prefix);
  mlp->bias[n_hidden] = add_tensor(tb, DG_TENSOR_PARAM, DG_NET_GENERATOR, INIT_ZEROS, output, 0, "%s.out.bias", prefix);
}

static void add_gen_mlp_buffers(table_builder *tb, gen_mlp *mlp, const char *prefix) {
  for (int i = 0; i < mlp->n_hidden; i++) {
    mlp->moving_mean[i] = add_tensor(tb, DG_TENSOR_BUFFER, DG_NET_GENERATOR, INIT_ZEROS, mlp->width[i + 1], 0, "%s.bn%d.movingMean", prefix, i);
    mlp->moving_var[i] = add_tensor(tb, DG_TENSOR_BUFFER, DG_NET_GENERATOR, INIT_ONES, mlp->width[i + 1], 0, "%s.bn%d.movingVariance", prefix, i);
  }
}

static void add_critic(table_builder *tb, critic_layout *c, const char *prefix, int network, int input, const int *hidden, int n_hidden) {
  c->n_hidden = n_hidden;
  c->width[0] = input;
  for (int i = 0; i < n_hidden; i++) c->width[i + 1] = hidden[i];
  c->width[n_hidden + 1] = 1;
  for (int i = 0; i < n_hidden; i++) {
    c->kernel[i] = add_tensor(tb, DG_TENSOR_PARAM, network, INIT_GLOROT, c->width[i], c->width[i + 1], "%s.dense%d.kernel", prefix, i);
    c->bias[i] = add_tensor(tb, DG_TENSOR_PARAM, network, INIT_ZEROS, c->width[i + 1], 0, "%s.dense%d.bias", prefix, i);
  }
  c->kernel[n_hidden] = add_tensor(tb, DG_TENSOR_PARAM, network, INIT_GLOROT, c->width[n_hidden], 1, "%s.out.kernel", prefix);
  c->bias[n_hidden] = add_tensor(tb, DG_TENSOR_PARAM, network, INIT_ZEROS, 1, 0, "%s.out.bias", prefix);
}

/* Parameters in params.ts's canonical order, then buffers, then Adam m/v per parameter. */
static int build_table(dg_model *m) {
  table_builder tb = {m, 0, 0};
  const dg_config *c = &m->cfg;
  dg_dims *d = &m->d;
  int H = m->H;
  add_gen_mlp(&tb, &m->attr, "gen.attr", c->attribute_noise_dim, c->attribute_hidden, c->n_attribute_hidden, d->attribute);
  m->attr.vars = m->attr_vars;
  m->attr.n_vars = c->n_attributes;
  if (m->has_minmax) {
    add_gen_mlp(&tb, &m->minmax, "gen.minmax", c->minmax_noise_dim + d->attribute, c->minmax_hidden, c->n_minmax_hidden, d->additional);
    m->minmax.vars = m->add_vars;
    m->minmax.n_vars = c->n_additional;
  }
  m->lstm_kernel = add_tensor(&tb, DG_TENSOR_PARAM, DG_NET_GENERATOR, INIT_GLOROT, d->lstm_input + H, 4 * H, "gen.feat.lstm.kernel");
  m->lstm_bias = add_tensor(&tb, DG_TENSOR_PARAM, DG_NET_GENERATOR, INIT_FORGET_BIAS, 4 * H, 0, "gen.feat.lstm.bias");
  m->feat_kernel = add_tensor(&tb, DG_TENSOR_PARAM, DG_NET_GENERATOR, INIT_GLOROT, H, d->S * d->feature, "gen.feat.out.kernel");
  m->feat_bias = add_tensor(&tb, DG_TENSOR_PARAM, DG_NET_GENERATOR, INIT_ZEROS, d->S * d->feature, 0, "gen.feat.out.bias");
  size_t critic_begin = m->n_param_floats;
  add_critic(&tb, &m->critic, "critic", DG_NET_CRITIC, d->critic_input, c->critic_hidden, c->n_critic_hidden);
  size_t aux_begin = m->n_param_floats;
  if (d->has_aux) add_critic(&tb, &m->aux, "aux", DG_NET_AUX, d->aux_input, c->aux_hidden, c->n_aux_hidden);
  m->net_begin[DG_NET_GENERATOR] = 0;
  m->net_end[DG_NET_GENERATOR] = critic_begin;
  m->net_begin[DG_NET_CRITIC] = critic_begin;
  m->net_end[DG_NET_CRITIC] = aux_begin;
  m->net_begin[DG_NET_AUX] = aux_begin;
  m->net_end[DG_NET_AUX] = m->n_param_floats;
  m->n_params = m->n_tensors;

  add_gen_mlp_buffers(&tb, &m->attr, "gen.attr");
  if (m->has_minmax) add_gen_mlp_buffers(&tb, &m->minmax, "gen.minmax");
  m->n_buffers = m->n_tensors - m->n_params;

  for (int i = 0; i < m->n_params && !tb.failed; i++) {
    for (int slot = 0; slot < 2; slot++) {
      tensor_entry p = m->tensors[i]; /* copy: add_tensor may move the table */
      add_tensor(&tb, slot ? DG_TENSOR_ADAM_V : DG_TENSOR_ADAM_M, p.network, INIT_ZEROS, p.shape[0], p.ndim == 2 ? p.shape[1] : 0, "%s.adam.%s", p.name,
                 slot ? "v" : "m");
      if (tb.failed) break;
      m->tensors[m->n_tensors - 1].offset = p.offset; /* Adam slots share the parameters' offsets */
    }
  }
  if (tb.failed) return dg_fail(DG_ERR_ALLOC, "out of memory building the tensor table");
  return DG_OK;
}

/* initialParameters(config, seed): Glorot kernels draw uniform(-l, l) in row-major order from stream 1. */
static void init_parameters(dg_model *m) {
  uint64_t position = 0;
  for (int i = 0; i < m->n_params; i++) {
    tensor_entry *e = &m->tensors[i];
    float *p = m->params + e->offset;
    switch (e->init) {
      case INIT_GLOROT: {
        double limit = sqrt(6.0 / (double)(e->shape[0] + e->shape[1]));
        for (size_t k = 0; k < e->size; k++) p[k] = (float)((2.0 * dg_rng_uniform_at(m->seed, DG_STREAM_INIT, position++) - 1.0) * limit);
        break;
      }
      case INIT_ONES:
        for (size_t k = 0; k < e->size; k++) p[k] = 1.0f;
        break;
      case INIT_FORGET_BIAS:
        memset(p, 0, sizeof(float) * e->size);
        for (int k = m->H; k < 2 * m->H; k++) p[k] = 1.0f;
        break;
      default:
        memset(p, 0, sizeof(float) * e->size);
    }
  }
  for (int i = m->n_params; i < m->n_params + m->n_buffers; i++) {
    tensor_entry *e = &m->tensors[i];
    for (size_t k = 0; k < e->size; k++) m->buffers[e->offset + k] = e->init == INIT_ONES ? 1.0f : 0.0f;
  }
}

/* ---------------------------------------------------------------- creation */

static int width_of(const dg_var *v, int n) {
  int w = 0;
  for (int i = 0; i < n; i++) w += v[i].dim;
  return w;
}

static int check_vars(const dg_var *v, int n, const char *what) {
  if (n < 0 || (n > 0 && !v)) return dg_fail(DG_ERR_CONFIG, "%s: %d variables but no list", what, n);
  for (int i = 0; i < n; i++) {
    if (v[i].dim < 1) return dg_fail(DG_ERR_CONFIG, "%s variable %d has dim %d", what, i, v[i].dim);
    if (v[i].activation < DG_SOFTMAX || v[i].activation > DG_TANH)
      return dg_fail(DG_ERR_CONFIG, "%s variable %d has unknown activation %d", what, i, v[i].activation);
  }
  return DG_OK;
}

static int check_layers(const int *w, int n, const char *what) {
  if (n < 0 || n > DG_MAX_LAYERS) return dg_fail(DG_ERR_CONFIG, "%s: %d hidden layers (at most %d)", what, n, DG_MAX_LAYERS);
  for (int i = 0; i < n; i++)
    if (w[i] < 1) return dg_fail(DG_ERR_CONFIG, "%s hidden layer %d has width %d", what, i, w[i]);
  return DG_OK;
}

int dg_dp_enabled(const dg_config *c) { return c->dp_clip_norm > 0 && isfinite(c->dp_clip_norm); }

static int check_config(const dg_config *c) {
  int rc;
  if (!c) return dg_fail(DG_ERR_ARG, "config is NULL");
  if ((rc = check_vars(c->attributes, c->n_attributes, "attribute"))) return rc;
  if ((rc = check_vars(c->additional, c->n_additional, "additional attribute"))) return rc;
  if ((rc = check_vars(c->features, c->n_features, "feature"))) return rc;
  if (c->n_attributes < 1) return dg_fail(DG_ERR_CONFIG, "the model needs at least one attribute variable");
  if (c->n_features < 1) return dg_fail(DG_ERR_CONFIG, "the model needs at least one feature variable");
  if (c->gen_flags) {
    const dg_var *g = &c->features[c->n_features - 1];
    if (g->dim != 2 || g->activation != DG_SOFTMAX) return dg_fail(DG_ERR_CONFIG, "with gen flags the last feature variable must be a 2-dim softmax");
  }
  if (c->max_length < 1 || c->sample_len < 1) return dg_fail(DG_ERR_CONFIG, "maxLength %d and sampleLen %d must be positive", c->max_length, c->sample_len);
  if (c->max_length % c->sample_len != 0)
    return dg_fail(DG_ERR_CONFIG, "maxLength %d is not a multiple of sampleLen %d", c->max_length, c->sample_len);
  if (c->attribute_noise_dim < 0 || c->minmax_noise_dim < 0 || c->feature_noise_dim < 0) return dg_fail(DG_ERR_CONFIG, "noise dims must be >= 0");
  if (c->lstm_units < 1) return dg_fail(DG_ERR_CONFIG, "lstmUnits must be positive, got %d", c->lstm_units);
  if ((rc = check_layers(c->attribute_hidden, c->n_attribute_hidden, "attributeHidden"))) return rc;
  if ((rc = check_layers(c->minmax_hidden, c->n_minmax_hidden, "minMaxHidden"))) return rc;
  if ((rc = check_layers(c->critic_hidden, c->n_critic_hidden, "criticHidden"))) return rc;
  if ((rc = check_layers(c->aux_hidden, c->n_aux_hidden, "auxCriticHidden"))) return rc;
  if (c->critic_steps < 1) return dg_fail(DG_ERR_CONFIG, "criticSteps must be >= 1, got %d", c->critic_steps);
  if (!(c->adam_beta1 >= 0 && c->adam_beta1 < 1 && c->adam_beta2 >= 0 && c->adam_beta2 < 1)) return dg_fail(DG_ERR_CONFIG, "Adam betas must be in [0, 1)");
  if (isnan(c->dp_clip_norm)) return dg_fail(DG_ERR_CONFIG, "the DP clip norm is NaN");
  if (!(c->dp_noise_multiplier >= 0 && isfinite(c->dp_noise_multiplier)))
    return dg_fail(DG_ERR_CONFIG, "the DP noise multiplier must be finite and >= 0, got %g", c->dp_noise_multiplier);
  if (c->dp_noise_multiplier > 0 && !dg_dp_enabled(c))
    return dg_fail(DG_ERR_CONFIG, "DP noise (multiplier %g) needs a finite, positive clip norm", c->dp_noise_multiplier);
  if (c->dp_expected_batch < 0 || (c->dp_expected_batch > 0 && !dg_dp_enabled(c)))
    return dg_fail(DG_ERR_CONFIG, "dp_expected_batch %d needs DP on (a finite, positive clip norm) and must be >= 0", c->dp_expected_batch);
  return DG_OK;
}

#ifdef __linux__
/* A cgroup's CPU quota in whole CPUs (rounded up), or 0 without one: v2 `cpu.max` ("max 100000" when
 * unlimited), v1 `cpu.cfs_quota_us` (-1 when unlimited) over `cpu.cfs_period_us`. */
static long cgroup_cpu_quota(void) {
  long long quota = -1, period = 0;
  char text[32];
  FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
  if (f) {
    if (fscanf(f, "%31s %lld", text, &period) == 2 && strcmp(text, "max") != 0) quota = atoll(text);
    fclose(f);
  } else if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "r"))) {
    if (fscanf(f, "%lld", &quota) != 1) quota = -1;
    fclose(f);
    if ((f = fopen("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "r"))) {
      if (fscanf(f, "%lld", &period) != 1) period = 0;
      fclose(f);
    }
  }
  return quota > 0 && period > 0 ? (long)((quota + period - 1) / period) : 0;
}
#endif

/* CPUs this process may use: its affinity mask (taskset, numactl, a container's cpuset) and a cgroup
 * CPU quota (docker --cpus) where there are such limits, else every online CPU. More threads than
 * that only take turns on the same CPUs, and each parallel region waits for its slowest thread. */
static long usable_cpus(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) n = CPU_COUNT(&set);
  long quota = cgroup_cpu_quota();
  if (quota >= 1 && quota < n) n = quota;
#endif
  return n;
}

int dg_default_threads(void) {
  long n = usable_cpus();
  const char *env = getenv("DG_NUM_THREADS");
  if (env && atoi(env) > 0) n = atoi(env);
  if (n < 1) n = 1;
  if (n > 64) n = 64;
  return (int)n;
}

int dg_create(const dg_config *config, uint32_t seed, dg_model **out) {
  int rc;
  if (!out) return dg_fail(DG_ERR_ARG, "out is NULL");
  *out = NULL;
  if ((rc = check_config(config))) return rc;
  dg_model *m = calloc(1, sizeof(dg_model));
  if (!m) return dg_fail(DG_ERR_ALLOC, "out of memory");
  m->cfg = *config;
  int nv = config->n_attributes + config->n_additional + config->n_features;
  m->var_storage = malloc(sizeof(dg_var) * (nv > 0 ? nv : 1));
  if (!m->var_storage) {
    free(m);
    return dg_fail(DG_ERR_ALLOC, "out of memory");
  }
  dg_var *vs = m->var_storage;
  memcpy(vs, config->attributes, sizeof(dg_var) * config->n_attributes);
  if (config->n_additional) memcpy(vs + config->n_attributes, config->additional, sizeof(dg_var) * config->n_additional);
  memcpy(vs + config->n_attributes + config->n_additional, config->features, sizeof(dg_var) * config->n_features);
  m->attr_vars = vs;
  m->add_vars = vs + config->n_attributes;
  m->feat_vars = vs + config->n_attributes + config->n_additional;
  m->cfg.attributes = m->attr_vars;
  m->cfg.additional = m->add_vars;
  m->cfg.features = m->feat_vars;

  dg_dims *d = &m->d;
  d->attribute = width_of(m->attr_vars, config->n_attributes);
  d->additional = width_of(m->add_vars, config->n_additional);
  d->feature = width_of(m->feat_vars, config->n_features);
  d->T = config->max_length;
  d->S = config->sample_len;
  d->steps = d->T / d->S;
  d->lstm_input = d->attribute + d->additional + config->feature_noise_dim;
  d->critic_input = d->T * d->feature + d->attribute + d->additional;
  d->aux_input = d->attribute + d->additional;
  d->has_aux = config->n_aux_hidden > 0;
  m->H = config->lstm_units;
  m->has_minmax = d->additional > 0;
  m->seed = seed;

  if ((rc = build_table(m))) {
    dg_destroy(m);
    return rc;
  }
  size_t np = m->n_param_floats, nb = m->n_buffer_floats;
  m->params = calloc(np, sizeof(float));
  m->grads = calloc(np, sizeof(float));
  m->adam_m = calloc(np, sizeof(float));
  m->adam_v = calloc(np, sizeof(float));
  m->buffers = calloc(nb ? nb : 1, sizeof(float));
  m->pool = dg_pool_create(config->threads > 0 ? config->threads : dg_default_threads());
  if (!m->params || !m->grads || !m->adam_m || !m->adam_v || !m->buffers || !m->pool) {
    dg_destroy(m);
    return dg_fail(DG_ERR_ALLOC, "out of memory allocating %zu parameters", np);
  }
  init_parameters(m);
  *out = m;
  return DG_OK;
}

void dg_destroy(dg_model *m) {
  if (!m) return;
  dg_pool_destroy(m->pool);
  free(m->gen_memory);
  free(m->critic_memory);
  free(m->params);
  free(m->grads);
  free(m->adam_m);
  free(m->adam_v);
  free(m->buffers);
  free(m->tensors);
  free(m->var_storage);
  free(m);
}

int dg_get_dims(const dg_model *m, dg_dims *out) {
  if (!m || !out) return dg_fail(DG_ERR_ARG, "NULL argument");
  *out = m->d;
  return DG_OK;
}

int dg_thread_count(const dg_model *m) { return dg_pool_size(m->pool); }

/* ---------------------------------------------------------------- workspaces */

/* Bump allocation out of one block; a first pass with base == NULL only measures. */
typedef struct {
  char *base;
  size_t used;
} arena;

static float *take(arena *a, size_t floats) {
  size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
  float *p = a->base ? (float *)(a->base + a->used) : NULL;
  a->used += bytes;
  return p;
}

static int max_width(const int *w, int n) {
  int mx = 1;
  for (int i = 0; i < n; i++) mx = w[i] > mx ? w[i] : mx;
  return mx;
}

static void layout_mlp_ws(arena *a, mlp_ws *w, const gen_mlp *mlp, int rows) {
  w->input = take(a, (size_t)rows * mlp->width[0]);
  for (int i = 0; i < mlp->n_hidden; i++) {
    int c = mlp->width[i + 1];
    w->xhat[i] = take(a, (size_t)rows * c);
    w->act[i] = take(a, (size_t)rows * c);
    w->mean[i] = take(a, c);
    w->var[i] = take(a, c);
    w->invstd[i] = take(a, c);
  }
  w->out = take(a, (size_t)rows * mlp->width[mlp->n_hidden + 1]);
}

static void layout_gen_ws(arena *a, gen_ws *g, const dg_model *m, int rows) {
  const dg_dims *d = &m->d;
  const dg_config *c = &m->cfg;
  size_t H = m->H, steps = d->steps, SF = (size_t)d->S * d->feature;
  g->rows = rows;
  g->za = take(a, (size_t)rows * c->attribute_noise_dim);
  g->zm = take(a, (size_t)rows * c->minmax_noise_dim);
  g->zf_batch_major = take(a, (size_t)rows * steps * c->feature_noise_dim);
  layout_mlp_ws(a, &g->attr, &m->attr, rows);
  if (m->has_minmax) layout_mlp_ws(a, &g->minmax, &m->minmax, rows);
  g->xam = take(a, (size_t)rows * (d->attribute + d->additional));
  g->base = take(a, (size_t)rows * 4 * H);
  g->xh = take(a, (steps + 1) * rows * (c->feature_noise_dim + H));
  g->packed = take(a, dg_lstm_packed_floats(c->feature_noise_dim, (int)H));
  g->gates = take(a, steps * rows * 4 * H);
  g->c = take(a, steps * rows * H);
  g->tc = take(a, steps * rows * H);
  g->y = take(a, steps * rows * SF);
  g->mask = take(a, (size_t)rows * d->T);
  g->lengths = (int32_t *)take(a, rows);
  g->dy = take(a, steps * rows * SF);
  g->dh = take(a, steps * rows * H);
  g->dh_rec = take(a, rows * H);
  g->dc = take(a, rows * H);
  g->dgsum = take(a, rows * 4 * H);
  g->dA = take(a, (size_t)rows * d->attribute);
  g->dM = take(a, (size_t)rows * (d->additional ? d->additional : 1));
  int mw = max_width(c->attribute_hidden, c->n_attribute_hidden);
  int mw2 = max_width(c->minmax_hidden, c->n_minmax_hidden);
  mw = mw > mw2 ? mw : mw2;
  mw = mw > d->attribute ? mw : d->attribute;
  mw = mw > d->additional ? mw : d->additional;
  g->d1 = take(a, (size_t)rows * mw);
  g->d2 = take(a, (size_t)rows * mw);
}

static void layout_critic_ws(arena *a, dg_critic_ws *w, const critic_layout *c, int rows) {
  w->max_rows = rows;
  int mw = 1;
  for (int l = 0; l <= c->n_hidden; l++) {
    w->act[l] = take(a, (size_t)rows * c->width[l]);
    if (l > 0) {
      w->delta[l] = take(a, (size_t)rows * c->width[l]);
      mw = c->width[l] > mw ? c->width[l] : mw;
    }
  }
  w->out = take(a, rows);
  w->dout = take(a, rows);
  w->g = take(a, (size_t)rows * c->width[0]);
  w->tmp = take(a, (size_t)rows * mw);
  w->norm = take(a, rows);
  w->ex_norm = take(a, rows);
  w->clip = take(a, rows);
}

/* Memory the workspaces may take: what the system can still give without swapping (Linux:
 * MemAvailable), at most DG_MEMORY_LIMIT_MB when set (a cap on a shared machine); SIZE_MAX if unknown. */
static size_t available_memory(void) {
  size_t available = SIZE_MAX;
#ifdef __linux__
  FILE *f = fopen("/proc/meminfo", "r");
  if (f) {
    char line[128];
    unsigned long long kb;
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
        available = (size_t)kb * 1024;
        break;
      }
    fclose(f);
  }
#endif
  const char *limit = getenv("DG_MEMORY_LIMIT_MB");
  if (limit && atol(limit) > 0 && (size_t)atol(limit) << 20 < available) available = (size_t)atol(limit) << 20;
  return available;
}

/* Refuses a workspace the machine cannot hold: Linux hands out any allocation and the process is killed
 * only when it touches the pages, mid-step, with no message. `bytes` replaces `old` bytes of it; `other`
 * bytes of the other workspace may still be untouched, so they count as needed too. */
static int check_workspace(const char *what, int rows, size_t bytes, size_t old, size_t other) {
  size_t available = available_memory();
  if (available == SIZE_MAX || bytes + other <= available + old) return DG_OK;
  return dg_fail(DG_ERR_ALLOC,
                 "a %s of %d rows needs %zu MB of working memory, more than the %zu MB available%s: use a smaller batch",
                 what, rows, (bytes + other) >> 20, (available + old) >> 20, getenv("DG_MEMORY_LIMIT_MB") ? " (DG_MEMORY_LIMIT_MB)" : "");
}

static int ensure_gen_ws(dg_model *m, int rows) {
  int rc;
  if (rows <= m->gen_capacity) return DG_OK;
  arena a = {NULL, 0};
  layout_gen_ws(&a, &m->gen, m, rows);
  if ((rc = check_workspace("generator pass", rows, a.used, m->gen_bytes, m->critic_bytes))) return rc;
  free(m->gen_memory);
  m->gen_capacity = 0;
  m->gen_bytes = 0;
  m->gen_memory = aligned_alloc(64, a.used);
  if (!m->gen_memory) return dg_fail(DG_ERR_ALLOC, "out of memory for a generator pass of %d rows (%zu MB)", rows, a.used >> 20);
  m->gen_bytes = a.used;
  a.base = m->gen_memory;
  a.used = 0;
  layout_gen_ws(&a, &m->gen, m, rows);
  m->gen_capacity = rows;
  return DG_OK;
}

/* Critic workspaces hold `rows` rows (3 B for a critic step). */
static int ensure_critic_ws(dg_model *m, int rows) {
  int rc;
  if (rows <= m->critic_capacity) return DG_OK;
  for (int pass = 0; pass < 2; pass++) {
    arena a = {pass ? m->critic_memory : NULL, 0};
    layout_critic_ws(&a, &m->main_ws, &m->critic, rows);
    if (m->d.has_aux) layout_critic_ws(&a, &m->aux_ws, &m->aux, rows);
    m->a_main = take(&a, rows);
    m->a_aux = take(&a, rows);
    m->partner = (int32_t *)take(&a, rows);
    if (pass == 0) {
      if ((rc = check_workspace("critic pass", rows, a.used, m->critic_bytes, m->gen_bytes))) return rc;
      free(m->critic_memory);
      m->critic_capacity = 0;
      m->critic_bytes = 0;
      m->critic_memory = aligned_alloc(64, a.used);
      if (!m->critic_memory) return dg_fail(DG_ERR_ALLOC, "out of memory for a critic pass of %d rows (%zu MB)", rows, a.used >> 20);
      m->critic_bytes = a.used;
    }
  }
  m->critic_capacity = rows;
  return DG_OK;
}

/* ---------------------------------------------------------------- noise */

typedef struct {
  uint32_t seed;
  uint64_t position[3];
  float *out[3];
  size_t count[3];
} noise_job;

static void noise_task(void *ctx, int chunk, int n_chunks, int thread) {
  noise_job *j = ctx;
  for (int s = 0; s < 3; s++) {
    size_t b = j->count[s] * chunk / n_chunks, e = j->count[s] * (chunk + 1) / n_chunks;
    if (e > b) dg_rng_fill_normal(j->seed, DG_STREAM_NOISE, j->position[s] + 2 * b, j->out[s] + b, e - b);
  }
}

/* Noise for rows [r0, r0 + rows) of a generator pass over n rows starting at draw `start`, drawn as
 * README.md orders it for the whole pass (z_a for all n, z_m for all n, z_f for all n). Returns the
 * number of draws the whole pass takes. */
static uint64_t draw_generator_noise(dg_model *m, gen_ws *g, uint64_t start, int n, int r0, int rows) {
  const dg_config *c = &m->cfg;
  uint64_t na = c->attribute_noise_dim, nm = m->has_minmax ? c->minmax_noise_dim : 0, nf = c->feature_noise_dim, steps = m->d.steps;
  noise_job j = {m->seed,
                 {start + 2 * r0 * na, start + 2 * n * na + 2 * r0 * nm, start + 2 * n * (na + nm) + 2 * r0 * steps * nf},
                 {g->za, g->zm, g->zf_batch_major},
                 {rows * na, rows * nm, rows * steps * nf}};
  size_t total = j.count[0] + j.count[1] + j.count[2];
  int chunks = total < 4096 ? 1 : 2 * dg_pool_size(m->pool);
  dg_pool_run(m->pool, noise_task, &j, chunks);
  /* z_f is drawn batch-major (example, step, dim); the LSTM reads it step-major from its input blocks. */
  size_t ld = nf + m->H;
  for (int b = 0; b < rows; b++)
    for (uint64_t s = 0; s < steps; s++) memcpy(g->xh + (s * rows + b) * ld, g->zf_batch_major + (b * steps + s) * nf, sizeof(float) * nf);
  return 2 * (uint64_t)n * (na + nm + steps * nf);
}

/* ---------------------------------------------------------------- generator */

enum { BN_TRAIN = 0, BN_TRAIN_UPDATE = 1, BN_INFER = 2 };

static void mlp_forward(dg_model *m, const gen_mlp *mlp, mlp_ws *w, int rows, int mode) {
  const float *x = w->input;
  float *P = m->params, *buf = m->buffers;
  float mom = m->cfg.batch_norm_momentum;
  for (int i = 0; i < mlp->n_hidden; i++) {
    int in = mlp->width[i], C = mlp->width[i + 1];
    dg_dense_forward(m->pool, w->xhat[i], x, P + mlp->kernel[i], P + mlp->bias[i], rows, in, C);
    if (mode == BN_INFER) {
      dg_batchnorm_inference(w->act[i], w->xhat[i], buf + mlp->moving_mean[i], buf + mlp->moving_var[i], P + mlp->gamma[i], P + mlp->beta[i], rows, C);
    } else {
      dg_batchnorm_forward(w->act[i], w->xhat[i], w->mean[i], w->var[i], w->invstd[i], P + mlp->gamma[i], P + mlp->beta[i], rows, C);
      if (mode == BN_TRAIN_UPDATE) {
        float *mm = buf + mlp->moving_mean[i], *mv = buf + mlp->moving_var[i];
        for (int k = 0; k < C; k++) {
          mm[k] = mom * mm[k] + (1.0f - mom) * w->mean[i][k];
          mv[k] = mom * mv[k] + (1.0f - mom) * w->var[i][k];
        }
      }
    }
    dg_relu_forward(w->act[i], (size_t)rows * C);
    x = w->act[i];
  }
  int L = mlp->n_hidden;
  dg_dense_forward(m->pool, w->out, x, P + mlp->kernel[L], P + mlp->bias[L], rows, mlp->width[L], mlp->width[L + 1]);
  dg_heads_forward(w->out, rows, mlp->vars, mlp->n_vars, 1);
}

/* dout [rows, out] (overwritten) -> parameter gradients. The input's gradient is not needed: the MLPs'
 * inputs are noise and stop-gradient attributes. */
static void mlp_backward(dg_model *m, const gen_mlp *mlp, mlp_ws *w, int rows, float *dout, float *d1, float *d2) {
  float *P = m->params, *G = m->grads;
  int L = mlp->n_hidden;
  dg_heads_backward(dout, dout, w->out, rows, mlp->vars, mlp->n_vars, 1);
  const float *x_last = L ? w->act[L - 1] : w->input;
  dg_dense_backward(m->pool, L ? d1 : NULL, G + mlp->kernel[L], G + mlp->bias[L], dout, x_last, P + mlp->kernel[L], rows, mlp->width[L],
                    mlp->width[L + 1]);
  for (int i = L - 1; i >= 0; i--) {
    int C = mlp->width[i + 1];
    dg_relu_backward(d1, w->act[i], (size_t)rows * C);
    dg_batchnorm_backward(d2, G + mlp->gamma[i], G + mlp->beta[i], d1, w->xhat[i], w->invstd[i], P + mlp->gamma[i], rows, C);
    dg_dense_backward(m->pool, i > 0 ? d1 : NULL, G + mlp->kernel[i], G + mlp->bias[i], d2, i > 0 ? w->act[i - 1] : w->input, P + mlp->kernel[i],
                      rows, mlp->width[i], C);
  }
}

/* The feature heads over steps * rows rows of S * F values: bias and activations forward, or the
 * activations' backward, on row chunks in parallel (rows are independent, so the split changes nothing). */
typedef struct {
  const dg_model *m;
  float *y;        /* forward: logits -> outputs; backward: the outputs */
  float *dy;       /* backward only: d outputs -> d logits */
  int rows, width;
} heads_job;

static void heads_forward_task(void *ctx, int chunk, int n_chunks, int thread) {
  const heads_job *j = ctx;
  int r0, r1;
  dg_stripe(j->rows, 1, chunk, n_chunks, &r0, &r1);
  if (r1 <= r0) return;
  const float *fb = j->m->params + j->m->feat_bias;
  float *y = j->y + (size_t)r0 * j->width;
  for (size_t r = 0; r < (size_t)(r1 - r0); r++)
    for (int k = 0; k < j->width; k++) y[r * j->width + k] += fb[k];
  dg_heads_forward(y, r1 - r0, j->m->feat_vars, j->m->cfg.n_features, j->m->d.S);
}

static void heads_backward_task(void *ctx, int chunk, int n_chunks, int thread) {
  const heads_job *j = ctx;
  int r0, r1;
  dg_stripe(j->rows, 1, chunk, n_chunks, &r0, &r1);
  if (r1 <= r0) return;
  float *dy = j->dy + (size_t)r0 * j->width;
  dg_heads_backward(dy, dy, j->y + (size_t)r0 * j->width, r1 - r0, j->m->feat_vars, j->m->cfg.n_features, j->m->d.S);
}

/* Chunks for a row-parallel pass over `values` floats: below ~16K values a fork-join costs more than it saves. */
static int row_pass_chunks(const dg_model *m, size_t values) { return values < 16384 ? 1 : 2 * dg_pool_size(m->pool); }

/* The generator over g->rows examples whose noise is already drawn. given_* (may be NULL) replace
 * the attribute / additional outputs. Fills g->attr.out, g->minmax.out, g->y, g->mask, g->lengths. */
static void generator_forward(dg_model *m, gen_ws *g, int mode, const float *given_attr, const float *given_add, int for_backward) {
  const dg_config *c = &m->cfg;
  const dg_dims *d = &m->d;
  int rows = g->rows, A = d->attribute, M = d->additional, H = m->H, steps = d->steps, S = d->S, F = d->feature;
  int nf = c->feature_noise_dim, AM = A + M;
  float *P = m->params;
  DG_PROF_T0();

  memcpy(g->attr.input, g->za, sizeof(float) * rows * c->attribute_noise_dim);
  if (given_attr)
    memcpy(g->attr.out, given_attr, sizeof(float) * rows * A);
  else
    mlp_forward(m, &m->attr, &g->attr, rows, mode);
  const float *Aout = g->attr.out;
  const float *A_stop = m->frozen_attr ? m->frozen_attr : Aout;

  if (m->has_minmax) {
    int nm = c->minmax_noise_dim;
    for (int r = 0; r < rows; r++) {
      memcpy(g->minmax.input + (size_t)r * (nm + A), g->zm + (size_t)r * nm, sizeof(float) * nm);
      memcpy(g->minmax.input + (size_t)r * (nm + A) + nm, A_stop + (size_t)r * A, sizeof(float) * A);
    }
    if (given_add)
      memcpy(g->minmax.out, given_add, sizeof(float) * rows * M);
    else
      mlp_forward(m, &m->minmax, &g->minmax, rows, mode);
  }

  DG_PROF_LAP(DG_PROF_GEN_MLP);
  /* LSTM: gates_j = [A, M] K_am + b + [z_j, h_{j-1}] K_zh; the first two terms once for all steps. */
  const float *M_stop = m->frozen_add ? m->frozen_add : g->minmax.out;
  for (int r = 0; r < rows; r++) {
    memcpy(g->xam + (size_t)r * AM, A_stop + (size_t)r * A, sizeof(float) * A);
    if (M) memcpy(g->xam + (size_t)r * AM + A, M_stop + (size_t)r * M, sizeof(float) * M);
  }
  const float *K = P + m->lstm_kernel;
  size_t G4 = 4 * (size_t)H;
  dg_dense_forward(m->pool, g->base, g->xam, K, P + m->lstm_bias, rows, AM, 4 * H);
  dg_lstm_forward(m->pool, g->gates, g->xh, g->base, K + (size_t)AM * G4, g->packed, g->c, g->tc, steps, rows, nf, H, for_backward);
  DG_PROF_LAP(DG_PROF_LSTM_FWD);

  /* Heads: every LSTM step emits S time steps of F values; h_j sits in block j + 1 of xh. */
  int ld = nf + H, SF = S * F;
  dg_gemm(m->pool, 0, 0, steps * rows, SF, H, 1.0f, g->xh + (size_t)rows * ld + nf, ld, P + m->feat_kernel, SF, 0.0f, g->y, SF);
  heads_job hj = {m, g->y, NULL, steps * rows, SF};
  dg_pool_run(m->pool, heads_forward_task, &hj, row_pass_chunks(m, (size_t)steps * rows * SF));

  /* Gen-flag mask: keep up to and including the first step whose "ends" beats "continues". */
  for (int r = 0; r < rows; r++) {
    int length = d->T;
    if (c->gen_flags)
      for (int t = 0; t < d->T; t++) {
        const float *v = g->y + ((size_t)(t / S) * rows + r) * S * F + (size_t)(t % S) * F;
        if (v[F - 1] > v[F - 2]) {
          length = t + 1;
          break;
        }
      }
    g->lengths[r] = length;
    for (int t = 0; t < d->T; t++) g->mask[(size_t)r * d->T + t] = t < length ? 1.0f : 0.0f;
  }
  DG_PROF_LAP(DG_PROF_HEADS_FWD);
}

/* Masked features [rows, T*F] (t-major), then attributes and additional attributes, into rows [r0, r1)
 * of X: row r gets generated series src[r] (src NULL: series r). */
static void write_fake_rows_range(const dg_model *m, const gen_ws *g, float *X, int ldx, int r0, int r1, const int32_t *src) {
  const dg_dims *d = &m->d;
  int rows = g->rows, S = d->S, F = d->feature, A = d->attribute, M = d->additional, TF = d->T * F;
  for (int x_row = r0; x_row < r1; x_row++) {
    float *x = X + (size_t)x_row * ldx;
    int r = src ? src[x_row] : x_row;
    for (int t = 0; t < d->T; t++) {
      const float *v = g->y + ((size_t)(t / S) * rows + r) * S * F + (size_t)(t % S) * F;
      float mk = g->mask[(size_t)r * d->T + t];
      for (int f = 0; f < F; f++) x[t * F + f] = v[f] * mk;
    }
    memcpy(x + TF, g->attr.out + (size_t)r * A, sizeof(float) * A);
    if (M) memcpy(x + TF + A, g->minmax.out + (size_t)r * M, sizeof(float) * M);
  }
}

static void write_fake_rows(const dg_model *m, const gen_ws *g, float *X, int ldx) { write_fake_rows_range(m, g, X, ldx, 0, g->rows, NULL); }

static void write_real_rows(const dg_model *m, const dg_batch *b, int first, int rows, float *X, int ldx) {
  const dg_dims *d = &m->d;
  int A = d->attribute, M = d->additional, TF = d->T * d->feature;
  for (int r = 0; r < rows; r++) {
    float *x = X + (size_t)r * ldx;
    size_t src = (size_t)first + r;
    memcpy(x, b->features + src * TF, sizeof(float) * TF);
    memcpy(x + TF, b->attributes + src * A, sizeof(float) * A);
    if (M) memcpy(x + TF + A, b->additional + src * M, sizeof(float) * M);
  }
}

/* dX_main [rows, critic_input], dX_aux [rows, A+M] (NULL without aux) -> generator gradients. */
static void generator_backward(dg_model *m, gen_ws *g, const float *dmain, int ldm, const float *daux, int lda) {
  const dg_config *c = &m->cfg;
  const dg_dims *d = &m->d;
  int rows = g->rows, A = d->attribute, M = d->additional, H = m->H, steps = d->steps, S = d->S, F = d->feature, TF = d->T * F;
  int nf = c->feature_noise_dim, AM = A + M;
  size_t G4 = 4 * (size_t)H;
  float *P = m->params, *G = m->grads;
  DG_PROF_T0();

  for (int r = 0; r < rows; r++) {
    for (int k = 0; k < A; k++) g->dA[(size_t)r * A + k] = dmain[(size_t)r * ldm + TF + k] + (daux ? daux[(size_t)r * lda + k] : 0.0f);
    for (int k = 0; k < M; k++) g->dM[(size_t)r * M + k] = dmain[(size_t)r * ldm + TF + A + k] + (daux ? daux[(size_t)r * lda + A + k] : 0.0f);
  }
  /* Features: through the (constant) mask, back into the heads' [step * rows, S*F] layout. */
  for (int r = 0; r < rows; r++)
    for (int t = 0; t < d->T; t++) {
      float *dv = g->dy + ((size_t)(t / S) * rows + r) * S * F + (size_t)(t % S) * F;
      float mk = g->mask[(size_t)r * d->T + t];
      const float *src = dmain + (size_t)r * ldm + (size_t)t * F;
      for (int f = 0; f < F; f++) dv[f] = src[f] * mk;
    }
  int ld = nf + H, SF = S * F;
  heads_job hj = {m, g->y, g->dy, steps * rows, SF};
  dg_pool_run(m->pool, heads_backward_task, &hj, row_pass_chunks(m, (size_t)steps * rows * SF));
  const float *h_all = g->xh + (size_t)rows * ld + nf;
  dg_gemm(m->pool, 1, 0, H, SF, steps * rows, 1.0f, h_all, ld, g->dy, SF, 1.0f, G + m->feat_kernel, SF);
  float *dfb = G + m->feat_bias;
  for (size_t r = 0; r < (size_t)steps * rows; r++)
    for (int k = 0; k < SF; k++) dfb[k] += g->dy[r * SF + k];
  dg_gemm(m->pool, 0, 1, steps * rows, H, SF, 1.0f, g->dy, SF, P + m->feat_kernel, SF, 0.0f, g->dh, H);
  DG_PROF_LAP(DG_PROF_HEADS_BWD);

  const float *K = P + m->lstm_kernel;
  float *dK = G + m->lstm_kernel;
  dg_lstm_backward(m->pool, g->gates, g->c, g->tc, g->xh, g->dh, K + (size_t)AM * G4, dK + (size_t)AM * G4, g->dgsum, g->packed, g->dh_rec, g->dc, steps,
                   rows, nf, H);
  DG_PROF_SKIP(); /* dg_lstm_backward profiles its own two parts */
  /* g->gates now holds d(gates). [A, M] is the same at every step: dgsum, their sum over steps. */
  dg_dense_backward(m->pool, NULL, dK, G + m->lstm_bias, g->dgsum, g->xam, K, rows, AM, 4 * H);

  if (m->has_minmax) mlp_backward(m, &m->minmax, &g->minmax, rows, g->dM, g->d1, g->d2);
  mlp_backward(m, &m->attr, &g->attr, rows, g->dA, g->d1, g->d2);
  DG_PROF_LAP(DG_PROF_GEN_TAIL);
}

/* ---------------------------------------------------------------- critics */

static void critic_net(dg_model *m, const critic_layout *c, dg_critic_net *net) {
  memset(net, 0, sizeof *net);
  net->n_hidden = c->n_hidden;
  for (int l = 0; l <= c->n_hidden + 1; l++) net->width[l] = c->width[l];
  for (int l = 0; l <= c->n_hidden; l++) {
    net->W[l] = m->params + c->kernel[l];
    net->b[l] = m->params + c->bias[l];
    net->dW[l] = m->grads + c->kernel[l];
    net->db[l] = m->grads + c->bias[l];
  }
}

static void zero_grads(dg_model *m, int net) {
  memset(m->grads + m->net_begin[net], 0, sizeof(float) * (m->net_end[net] - m->net_begin[net]));
}

typedef struct {
  dg_model *m;
  size_t begin, n;
  float lr;
  int64_t t;
} adam_job;

static void adam_task(void *ctx, int chunk, int n_chunks, int thread) {
  adam_job *j = ctx;
  size_t b = j->begin + j->n * chunk / n_chunks, e = j->begin + j->n * (chunk + 1) / n_chunks;
  dg_model *m = j->m;
  dg_adam_update(m->params + b, m->grads + b, m->adam_m + b, m->adam_v + b, e - b, j->lr, m->cfg.adam_beta1, m->cfg.adam_beta2, j->t);
}

static void adam_network(dg_model *m, int net, float lr) {
  size_t b = m->net_begin[net], n = m->net_end[net] - b;
  if (n == 0) return;
  m->step[net]++;
  adam_job j = {m, b, n, lr, m->step[net]};
  DG_PROF_T0();
  dg_pool_run(m->pool, adam_task, &j, n < 65536 ? 1 : 2 * dg_pool_size(m->pool));
  DG_PROF_LAP(DG_PROF_ADAM);
}

/* x_hat = a R + (1 - a) G per example, rows [2B, 3B) from rows [0, B) and [B, 2B) (examples [b0, b1)). */
static void interpolate_range(float *X, int B, int width, const float *a, int b0, int b1) {
  for (int b = b0; b < b1; b++) {
    const float *r = X + (size_t)b * width, *f = X + (size_t)(B + b) * width;
    float *x = X + (size_t)(2 * B + b) * width;
    float ab = a[b], fb = 1.0f - a[b];
    for (int k = 0; k < width; k++) x[k] = ab * r[k] + fb * f[k];
  }
}

static void interpolate(float *X, int B, int width, const float *a) { interpolate_range(X, B, width, a, 0, B); }

/* The main critic's input [real; fake; x_hat] on example chunks in parallel (each row is written once). */
typedef struct {
  const dg_model *m;
  const gen_ws *g;
  const dg_batch *batch;
  float *X;
  int ldx, B;
  const int32_t *partner; /* NULL: real example b meets fake series b */
} critic_rows_job;

static void critic_rows_task(void *ctx, int chunk, int n_chunks, int thread) {
  const critic_rows_job *j = ctx;
  int b0, b1;
  dg_stripe(j->B, 1, chunk, n_chunks, &b0, &b1);
  if (b1 <= b0) return;
  write_real_rows(j->m, j->batch, b0, b1 - b0, j->X + (size_t)b0 * j->ldx, j->ldx);
  write_fake_rows_range(j->m, j->g, j->X + (size_t)j->B * j->ldx, j->ldx, b0, b1, j->partner);
  interpolate_range(j->X, j->B, j->ldx, j->m->a_main, b0, b1);
}

/* One critic's WGAN-GP gradients, clipped and noised per DP-SGD when the config asks for it. */
static int critic_step_grads(dg_model *m, dg_critic_net *net, dg_critic_ws *ws, int network, int B, double *mean_real, double *mean_fake,
                             double *gp, float *dp_norm, float *dp_clipped) {
  float lambda = m->cfg.gradient_penalty_weight;
  DG_PROF_T0();
  zero_grads(m, network);
  dg_critic_forward(m->pool, net, ws, 3 * B);
  DG_PROF_LAP(DG_PROF_CRITIC_FWD);
  if (!dg_dp_enabled(&m->cfg)) {
    dg_critic_wgan_gp_grads(m->pool, net, ws, B, lambda, mean_real, mean_fake, gp);
    *dp_norm = *dp_clipped = 0.0f;
    return DG_OK;
  }
  dg_dp_clip dp = {m->cfg.dp_clip_norm, 0.0, 0.0};
  dg_critic_wgan_gp_grads_dp(m->pool, net, ws, B, lambda, &dp, mean_real, mean_fake, gp);
  *dp_norm = (float)dp.mean_norm;
  *dp_clipped = (float)dp.clipped_fraction;
  /* The sum of clipped gradients gets N(0, (sigma C)^2) per coordinate; the gradient is that over B, or
   * over the expected batch size for Poisson-sampled batches (the mean so far, times B / expected). */
  size_t begin = m->net_begin[network], n = m->net_end[network] - begin;
  double divisor = dg_step_batch(&m->cfg, B);
  if (divisor != B) {
    float scale = (float)(B / divisor);
    for (size_t i = 0; i < n; i++) m->grads[begin + i] *= scale;
  }
  return dg_add_secure_gaussian(m->pool, m->grads + begin, n, (double)m->cfg.dp_noise_multiplier * m->cfg.dp_clip_norm / divisor);
}

/* DP-SGD on Poisson-sampled batches: real example b (training-set row id r = ids[b]) at critic step k
 * (the critic's Adam steps so far) meets fake series partner[b] in [0, E) and gets its interpolation
 * weights a_main[b], a_aux[b] from draws dg_pairing_position(k, r) + 0, 1, 2 of Rng(seed, stream 4):
 * from (k, r) alone, not from the batch slot b or what else was sampled, so each example's clipped
 * term is its own. Pairing by slot (as fixed-size batches do) would shift every later example onto
 * another fake series and weight when one series joins the sample, and a noise position advanced per
 * sampled row would count the sample sizes into the checkpoint. */
static void pair_examples(dg_model *m, const dg_batch *batch, int E) {
  int64_t k = m->step[DG_NET_CRITIC];
  for (int b = 0; b < batch->size; b++) {
    uint64_t p = dg_pairing_position(k, batch->ids[b]);
    m->partner[b] = dg_pairing_partner(dg_rng_u32_at(m->seed, DG_STREAM_DP_PAIRING, p), E);
    m->a_main[b] = (float)dg_rng_uniform_at(m->seed, DG_STREAM_DP_PAIRING, p + 1);
    m->a_aux[b] = (float)dg_rng_uniform_at(m->seed, DG_STREAM_DP_PAIRING, p + 2);
  }
}

/* Gradients of both critics' losses for one real batch and a fresh fake batch (noise from the
 * current position, which advances by what was drawn). The fake batch has the real batch's B rows,
 * paired by slot, or with DP-SGD on Poisson-sampled batches E = dp_expected_batch rows paired by id
 * (pair_examples): then the draws taken are the same for every sample. */
static int critic_grads(dg_model *m, const dg_batch *batch, dg_losses *losses) {
  int rc, B = batch->size, E = m->cfg.dp_expected_batch;
  int n_fake = E > 0 ? E : B;
  const dg_dims *d = &m->d;
  if ((rc = ensure_gen_ws(m, n_fake)) || (rc = ensure_critic_ws(m, 3 * B))) return rc;
  gen_ws *g = &m->gen;
  g->rows = n_fake;
  DG_PROF_T0();
  m->noise_position += draw_generator_noise(m, g, m->noise_position, n_fake, 0, n_fake);
  DG_PROF_LAP(DG_PROF_NOISE);
  generator_forward(m, g, BN_TRAIN, NULL, NULL, 0);
  DG_PROF_SKIP();
  if (E > 0) {
    pair_examples(m, batch, E);
  } else {
    dg_rng_fill_uniform(m->seed, DG_STREAM_NOISE, m->noise_position, m->a_main, B);
    m->noise_position += B;
    if (d->has_aux) {
      dg_rng_fill_uniform(m->seed, DG_STREAM_NOISE, m->noise_position, m->a_aux, B);
      m->noise_position += B;
    }
  }

  dg_critic_net net;
  double mean_real, mean_fake, gp;
  float lambda = m->cfg.gradient_penalty_weight;
  int w0 = d->critic_input;
  float *X = m->main_ws.act[0];
  critic_rows_job rj = {m, g, batch, X, w0, B, E > 0 ? m->partner : NULL};
  dg_pool_run(m->pool, critic_rows_task, &rj, row_pass_chunks(m, (size_t)B * w0));
  critic_net(m, &m->critic, &net);
  DG_PROF_LAP(DG_PROF_ROWS);
  if ((rc = critic_step_grads(m, &net, &m->main_ws, DG_NET_CRITIC, B, &mean_real, &mean_fake, &gp, &losses->dp_grad_norm,
                              &losses->dp_clipped_fraction)))
    return rc;
  DG_PROF_SKIP();
  losses->critic = (float)(mean_fake - mean_real + lambda * gp);
  losses->gradient_penalty = (float)gp;
  losses->wasserstein_distance = (float)(mean_real - mean_fake);

  losses->aux_critic = 0.0f;
  losses->aux_gradient_penalty = 0.0f;
  losses->aux_dp_grad_norm = 0.0f;
  losses->aux_dp_clipped_fraction = 0.0f;
  if (d->has_aux) {
    int wa = d->aux_input, TF = d->T * d->feature;
    float *Xa = m->aux_ws.act[0];
    /* The aux critic sees the attribute columns of the main critic's real and fake rows. */
    for (int r = 0; r < 2 * B; r++) memcpy(Xa + (size_t)r * wa, X + (size_t)r * w0 + TF, sizeof(float) * wa);
    interpolate(Xa, B, wa, m->a_aux);
    critic_net(m, &m->aux, &net);
    DG_PROF_LAP(DG_PROF_ROWS);
    if ((rc = critic_step_grads(m, &net, &m->aux_ws, DG_NET_AUX, B, &mean_real, &mean_fake, &gp, &losses->aux_dp_grad_norm,
                                &losses->aux_dp_clipped_fraction)))
      return rc;
    DG_PROF_SKIP();
    losses->aux_critic = (float)(mean_fake - mean_real + lambda * gp);
    losses->aux_gradient_penalty = (float)gp;
  }
  return DG_OK;
}

/* Gradients of L_G for a fresh fake batch of B rows. */
static int generator_grads(dg_model *m, int B, int bn_mode, dg_losses *losses) {
  int rc;
  const dg_dims *d = &m->d;
  if ((rc = ensure_gen_ws(m, B)) || (rc = ensure_critic_ws(m, B))) return rc;
  gen_ws *g = &m->gen;
  g->rows = B;
  DG_PROF_T0();
  m->noise_position += draw_generator_noise(m, g, m->noise_position, B, 0, B);
  DG_PROF_LAP(DG_PROF_NOISE);
  generator_forward(m, g, bn_mode, NULL, NULL, 1);
  DG_PROF_SKIP();

  dg_critic_net net;
  int w0 = d->critic_input;
  float alpha = m->cfg.aux_critic_weight;
  write_fake_rows(m, g, m->main_ws.act[0], w0);
  critic_net(m, &m->critic, &net);
  DG_PROF_LAP(DG_PROF_ROWS);
  dg_critic_forward(m->pool, &net, &m->main_ws, B);
  double sum = 0.0;
  for (int b = 0; b < B; b++) {
    sum += m->main_ws.out[b];
    m->main_ws.dout[b] = -1.0f / B;
  }
  double loss = -sum / B;
  dg_critic_backward(m->pool, &net, &m->main_ws, B, 1);

  const float *daux = NULL;
  if (d->has_aux) {
    int wa = d->aux_input, TF = d->T * d->feature;
    for (int r = 0; r < B; r++) memcpy(m->aux_ws.act[0] + (size_t)r * wa, m->main_ws.act[0] + (size_t)r * w0 + TF, sizeof(float) * wa);
    critic_net(m, &m->aux, &net);
    dg_critic_forward(m->pool, &net, &m->aux_ws, B);
    sum = 0.0;
    for (int b = 0; b < B; b++) {
      sum += m->aux_ws.out[b];
      m->aux_ws.dout[b] = -alpha / B;
    }
    loss -= alpha * sum / B;
    dg_critic_backward(m->pool, &net, &m->aux_ws, B, 1);
    daux = m->aux_ws.g;
  }
  losses->generator = (float)loss;
  zero_grads(m, DG_NET_GENERATOR);
  DG_PROF_LAP(DG_PROF_GEN_CRITIC);
  generator_backward(m, g, m->main_ws.g, w0, daux, d->aux_input);
  return DG_OK;
}

static int check_batch(const dg_model *m, const dg_batch *b) {
  if (!b || b->size < 1) return dg_fail(DG_ERR_ARG, "a batch needs at least one series");
  if (!b->attributes || !b->features || (m->d.additional > 0 && !b->additional)) return dg_fail(DG_ERR_ARG, "a batch array is NULL");
  return DG_OK;
}

/* A training batch: under DP-SGD on Poisson-sampled batches each series needs its training-set row id
 * (pair_examples); pairing by batch slot instead would make every example's clipped term depend on
 * which other series were sampled. */
static int check_train_batch(const dg_model *m, const dg_batch *b) {
  int rc = check_batch(m, b);
  if (rc || m->cfg.dp_expected_batch <= 0) return rc;
  if (!b->ids)
    return dg_fail(DG_ERR_ARG, "DP-SGD on Poisson-sampled batches (dp_expected_batch %d) needs each series' training-set row id (dg_batch.ids)",
                   m->cfg.dp_expected_batch);
  for (int i = 0; i < b->size; i++)
    if (b->ids[i] < 0) return dg_fail(DG_ERR_ARG, "batch row %d: the training-set row id %d is negative", i, (int)b->ids[i]);
  return DG_OK;
}

static int losses_finite(const dg_losses *l) {
  return isfinite(l->critic) && isfinite(l->aux_critic) && isfinite(l->gradient_penalty) && isfinite(l->aux_gradient_penalty) &&
         isfinite(l->generator) && isfinite(l->wasserstein_distance);
}

int dg_train_step(dg_model *m, const dg_batch *batches, int n_batches, dg_losses *out) {
  int rc;
  if (!m || !batches || !out) return dg_fail(DG_ERR_ARG, "NULL argument");
  if (n_batches < m->cfg.critic_steps)
    return dg_fail(DG_ERR_ARG, "an iteration takes %d real batches (criticSteps), got %d", m->cfg.critic_steps, n_batches);
  for (int s = 0; s < m->cfg.critic_steps; s++)
    if ((rc = check_train_batch(m, &batches[s]))) return rc;
  dg_losses l;
  memset(&l, 0, sizeof l);
  for (int s = 0; s < m->cfg.critic_steps; s++) {
    if ((rc = critic_grads(m, &batches[s], &l))) return rc;
    adam_network(m, DG_NET_CRITIC, m->cfg.critic_lr);
    if (m->d.has_aux) adam_network(m, DG_NET_AUX, m->cfg.aux_critic_lr);
  }
  if ((rc = generator_grads(m, dg_step_batch(&m->cfg, batches[0].size), BN_TRAIN_UPDATE, &l))) return rc;
  adam_network(m, DG_NET_GENERATOR, m->cfg.generator_lr);
  *out = l;
  if (!losses_finite(&l))
    return dg_fail(DG_ERR_NUMERIC, "training diverged: a loss is not finite (critic %g, generator %g, gp %g)", l.critic, l.generator, l.gradient_penalty);
  return DG_OK;
}

int dg_debug_critic_grads(dg_model *m, const dg_batch *batch, dg_losses *losses) {
  int rc = check_train_batch(m, batch);
  if (rc) return rc;
  uint64_t saved = m->noise_position;
  rc = critic_grads(m, batch, losses);
  m->noise_position = saved;
  return rc;
}

int dg_debug_generator_grads(dg_model *m, int B, dg_losses *losses) {
  if (B < 1) return dg_fail(DG_ERR_ARG, "batch size must be positive");
  uint64_t saved = m->noise_position;
  int rc = generator_grads(m, B, BN_TRAIN, losses);
  m->noise_position = saved;
  return rc;
}

float *dg_grads(dg_model *m) { return m->grads; }
void dg_debug_freeze_stopgrad(dg_model *m, const float *attr, const float *add) {
  m->frozen_attr = attr;
  m->frozen_add = add;
}
const float *dg_debug_critic_input(const dg_model *m) { return m->main_ws.act[0]; }
const float *dg_debug_interpolation(const dg_model *m, int aux) { return aux ? m->a_aux : m->a_main; }
float *dg_params(dg_model *m) { return m->params; }
size_t dg_param_floats(const dg_model *m) { return m->n_param_floats; }
size_t dg_param_offset(const dg_model *m, int index) { return m->tensors[index].offset; }

/* ---------------------------------------------------------------- generation and scores */

int dg_generate(dg_model *m, int n, const float *given_attr, const float *given_add, float *attr_out, float *add_out, float *feat_out,
                int32_t *lengths) {
  int rc;
  if (!m) return dg_fail(DG_ERR_ARG, "model is NULL");
  if (n < 0) return dg_fail(DG_ERR_ARG, "cannot generate %d series", n);
  if (given_add && !given_attr) return dg_fail(DG_ERR_ARG, "given additional attributes need given attributes too");
  if (n == 0) return DG_OK;
  const dg_dims *d = &m->d;
  if (!attr_out || !feat_out || !lengths || (d->additional > 0 && !add_out)) return dg_fail(DG_ERR_ARG, "an output array is NULL");
  int chunk = n < GEN_CHUNK ? n : GEN_CHUNK;
  if ((rc = ensure_gen_ws(m, chunk))) return rc;
  gen_ws *g = &m->gen;
  int A = d->attribute, M = d->additional, TF = d->T * d->feature;
  /* Each block of NOISE_BLOCK series is one generator forward in the README's sense: its z_a, z_m, z_f
   * are drawn in turn, then the next block's. Passes of GEN_CHUNK rows read their share of them. */
  uint64_t position = m->noise_position;
  for (int b0 = 0; b0 < n; b0 += NOISE_BLOCK) {
    int block = n - b0 < NOISE_BLOCK ? n - b0 : NOISE_BLOCK;
    uint64_t drawn = 0;
    for (int r0 = 0; r0 < block; r0 += chunk) {
      int rows = block - r0 < chunk ? block - r0 : chunk;
      size_t first = (size_t)b0 + r0;
      g->rows = rows;
      drawn = draw_generator_noise(m, g, position, block, r0, rows);
      generator_forward(m, g, BN_INFER, given_attr ? given_attr + first * A : NULL, given_add ? given_add + first * M : NULL, 0);
      for (int r = 0; r < rows; r++) {
        size_t o = first + r;
        float *x = feat_out + o * TF;
        for (int t = 0; t < d->T; t++) {
          const float *v = g->y + ((size_t)(t / d->S) * rows + r) * d->S * d->feature + (size_t)(t % d->S) * d->feature;
          int keep = g->mask[(size_t)r * d->T + t] != 0.0f;
          for (int f = 0; f < d->feature; f++) x[t * d->feature + f] = keep ? v[f] : 0.0f; /* +0 padding, like the encoder */
        }
        memcpy(attr_out + o * A, g->attr.out + (size_t)r * A, sizeof(float) * A);
        if (M) memcpy(add_out + o * M, g->minmax.out + (size_t)r * M, sizeof(float) * M);
        lengths[o] = g->lengths[r];
      }
    }
    position += drawn;
  }
  m->noise_position = position;
  return DG_OK;
}

int dg_critic_scores(dg_model *m, const dg_batch *batch, float *scores) {
  int rc;
  if (!m || !scores) return dg_fail(DG_ERR_ARG, "NULL argument");
  if ((rc = check_batch(m, batch))) return rc;
  int chunk = batch->size < GEN_CHUNK ? batch->size : GEN_CHUNK;
  if ((rc = ensure_critic_ws(m, chunk))) return rc;
  dg_critic_net net;
  critic_net(m, &m->critic, &net);
  for (int r0 = 0; r0 < batch->size; r0 += chunk) {
    int rows = batch->size - r0 < chunk ? batch->size - r0 : chunk;
    write_real_rows(m, batch, r0, rows, m->main_ws.act[0], m->d.critic_input);
    dg_critic_forward(m->pool, &net, &m->main_ws, rows);
    memcpy(scores + r0, m->main_ws.out, sizeof(float) * rows);
  }
  return DG_OK;
}

/* ---------------------------------------------------------------- state */

int dg_tensor_count(const dg_model *m) { return m ? m->n_tensors : 0; }

int dg_tensor_info_at(const dg_model *m, int i, dg_tensor_info *out) {
  if (!m || !out || i < 0 || i >= m->n_tensors) return dg_fail(DG_ERR_ARG, "tensor index %d out of range", i);
  const tensor_entry *e = &m->tensors[i];
  out->name = e->name;
  out->ndim = e->ndim;
  out->shape[0] = e->shape[0];
  out->shape[1] = e->shape[1];
  out->size = e->size;
  out->kind = e->kind;
  out->network = e->network;
  return DG_OK;
}

int dg_tensor_find(const dg_model *m, const char *name) {
  for (int i = 0; m && name && i < m->n_tensors; i++)
    if (strcmp(m->tensors[i].name, name) == 0) return i;
  return -1;
}

float *dg_tensor_data(dg_model *m, int i) {
  if (!m || i < 0 || i >= m->n_tensors) return NULL;
  const tensor_entry *e = &m->tensors[i];
  switch (e->kind) {
    case DG_TENSOR_PARAM: return m->params + e->offset;
    case DG_TENSOR_BUFFER: return m->buffers + e->offset;
    case DG_TENSOR_ADAM_M: return m->adam_m + e->offset;
    default: return m->adam_v + e->offset;
  }
}

int dg_get_counters(const dg_model *m, dg_counters *out) {
  if (!m || !out) return dg_fail(DG_ERR_ARG, "NULL argument");
  out->generator_step = m->step[DG_NET_GENERATOR];
  out->critic_step = m->step[DG_NET_CRITIC];
  out->aux_critic_step = m->step[DG_NET_AUX];
  out->noise_position = m->noise_position;
  return DG_OK;
}

int dg_set_counters(dg_model *m, const dg_counters *c) {
  if (!m || !c) return dg_fail(DG_ERR_ARG, "NULL argument");
  if (c->generator_step < 0 || c->critic_step < 0 || c->aux_critic_step < 0) return dg_fail(DG_ERR_ARG, "step counters must be >= 0");
  m->step[DG_NET_GENERATOR] = c->generator_step;
  m->step[DG_NET_CRITIC] = c->critic_step;
  m->step[DG_NET_AUX] = c->aux_critic_step;
  m->noise_position = c->noise_position;
  return DG_OK;
}

int dg_copy_state(dg_model *to, const dg_model *from) {
  for (int i = 0; i < dg_tensor_count(from); i++) {
    dg_tensor_info ti;
    dg_tensor_info_at(from, i, &ti);
    memcpy(dg_tensor_data(to, i), dg_tensor_data((dg_model *)from, i), sizeof(float) * ti.size);
  }
  dg_counters c;
  dg_get_counters(from, &c);
  return dg_set_counters(to, &c);
}

/* ---------------------------------------------------------------- layout for other back ends */

static void copy_gen_mlp(const gen_mlp *src, dg_mlp_layout *dst) {
  memset(dst, 0, sizeof *dst);
  dst->n_hidden = src->n_hidden;
  memcpy(dst->width, src->width, sizeof dst->width);
  memcpy(dst->kernel, src->kernel, sizeof dst->kernel);
  memcpy(dst->bias, src->bias, sizeof dst->bias);
  memcpy(dst->gamma, src->gamma, sizeof dst->gamma);
  memcpy(dst->beta, src->beta, sizeof dst->beta);
  memcpy(dst->moving_mean, src->moving_mean, sizeof dst->moving_mean);
  memcpy(dst->moving_var, src->moving_var, sizeof dst->moving_var);
}

static void copy_critic(const critic_layout *src, dg_mlp_layout *dst) {
  memset(dst, 0, sizeof *dst);
  dst->n_hidden = src->n_hidden;
  memcpy(dst->width, src->width, sizeof dst->width);
  memcpy(dst->kernel, src->kernel, sizeof dst->kernel);
  memcpy(dst->bias, src->bias, sizeof dst->bias);
}

void dg_get_layout(const dg_model *m, dg_layout *out) {
  memset(out, 0, sizeof *out);
  out->d = m->d;
  out->H = m->H;
  out->has_minmax = m->has_minmax;
  out->config = &m->cfg;
  copy_gen_mlp(&m->attr, &out->attr);
  if (m->has_minmax) copy_gen_mlp(&m->minmax, &out->minmax);
  copy_critic(&m->critic, &out->critic);
  if (m->d.has_aux) copy_critic(&m->aux, &out->aux);
  out->lstm_kernel = m->lstm_kernel;
  out->lstm_bias = m->lstm_bias;
  out->feat_kernel = m->feat_kernel;
  out->feat_bias = m->feat_bias;
  out->n_param_floats = m->n_param_floats;
  out->n_buffer_floats = m->n_buffer_floats;
  memcpy(out->net_begin, m->net_begin, sizeof out->net_begin);
  memcpy(out->net_end, m->net_end, sizeof out->net_end);
}

float *dg_adam_m(dg_model *m) { return m->adam_m; }
float *dg_adam_v(dg_model *m) { return m->adam_v; }
float *dg_buffers(dg_model *m) { return m->buffers; }
uint32_t dg_seed(const dg_model *m) { return m->seed; }
