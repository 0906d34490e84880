/*
 * Node-API binding of the native core. Plain C on node_api.h. Training, generation and critic scores
 * run on libuv's thread pool (napi_async_work) and return promises; inputs are copied before the work
 * starts, so JavaScript may reuse its arrays at once. Errors from the core become rejected promises
 * (or thrown errors for the synchronous calls) carrying the core's message. One operation runs on a
 * model at a time: core/model/native.ts queues its calls, and the binding refuses overlapping ones.
 *
 * A model runs on the CPU core linked in here, or on the GPU through the CUDA plugin (out/libdg_cuda.so,
 * see backend.h) when create() is given the plugin's path. Each handle carries its backend's table; a
 * CUDA model's state lives on the device and is copied to its host model for getState, criticScores
 * (computed on the CPU) and from it after setState.
 *
 * JavaScript surface (see core/model/native.ts):
 *   create(config, seed, cudaLibrary?) -> handle          info() -> { kernel }
 *   cudaStatus(cudaLibrary) -> { available, reason?, device? }   (never throws for a missing plugin, driver or GPU)
 *   trainStep(handle, batches) -> Promise<losses>  (losses.dp: clip statistics when config.dpClipNorm is on; each batch's
 *                                                  optional rows: its training-set row ids, needed with dpExpectedBatch)
 *   generate(handle, n, givenAttributes?, givenAdditional?) -> Promise<{attributes, additionalAttributes, features, lengths}>
 *   criticScores(handle, batch) -> Promise<Float32Array>
 *   getState(handle) -> { tensors: [{name, shape, data}], counters }
 *   setState(handle, tensors, counters)     destroy(handle)     threads(handle) -> number
 *   dumpIteration(handle, batches, path) -> Promise<void>   (one iteration as a tensor dump, README.md; CPU models only)
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include "backend.h"
#include "dg.h"
#include "dg_dump.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 6

typedef struct {
  const dg_backend *be; /* whose functions handle this model: the CPU core's or a CUDA plugin's */
  dg_cuda *gpu;         /* the CUDA model, or NULL on the CPU */
  dg_model *model;      /* the CPU model, or the CUDA model's host model (names and stores the state) */
  int host_stale;       /* CUDA: the device has changed since the host model was last synced */
  dg_config config; /* kept for dumps; var arrays owned below */
  dg_var *vars;
  uint32_t seed;
  int busy;
  int destroy_when_idle;
} handle;

/* ---------------------------------------------------------------- small helpers */

#define CALL(env, expr)                                                     \
  do {                                                                      \
    if ((expr) != napi_ok) {                                                \
      const napi_extended_error_info *info_;                                \
      napi_get_last_error_info((env), &info_);                              \
      bool pending_;                                                        \
      napi_is_exception_pending((env), &pending_);                          \
      if (!pending_) napi_throw_error((env), NULL, info_->error_message ? info_->error_message : "N-API call failed"); \
      return NULL;                                                          \
    }                                                                       \
  } while (0)

static napi_value throw_error(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static napi_value throw_error(napi_env env, const char *fmt, ...) {
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t = napi_undefined;
  napi_typeof(env, v, &t);
  return t == napi_undefined || t == napi_null;
}

static int get_property(napi_env env, napi_value obj, const char *key, napi_value *out) {
  bool has = false;
  if (napi_has_named_property(env, obj, key, &has) != napi_ok || !has) return 0;
  if (napi_get_named_property(env, obj, key, out) != napi_ok) return 0;
  return !is_nullish(env, *out);
}

static int get_number(napi_env env, napi_value obj, const char *key, double *out) {
  napi_value v;
  if (!get_property(env, obj, key, &v)) return 0;
  return napi_get_value_double(env, v, out) == napi_ok;
}

static int get_int(napi_env env, napi_value obj, const char *key, int *out) {
  double d;
  if (!get_number(env, obj, key, &d)) return 0;
  *out = (int)d;
  return 1;
}

/* A Float32Array's data and length; 0 when the value is not one. */
static int typed_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *length) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) return 0;
  napi_typedarray_type type;
  void *ptr;
  napi_value ab;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, length, &ptr, &ab, &offset) != napi_ok || type != want) return 0;
  *data = ptr;
  return 1;
}

static int float32_array(napi_env env, napi_value v, float **data, size_t *length) {
  return typed_array(env, v, napi_float32_array, (void **)data, length);
}

/* A JS string as a malloc'ed C string; NULL, with a JS error thrown, when it is not a string or holds
 * a NUL (which would silently cut a path short). */
static char *string_value(napi_env env, napi_value v, const char *what) {
  size_t len;
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) {
    throw_error(env, "%s must be a string", what);
    return NULL;
  }
  char *s = malloc(len + 1);
  if (!s) {
    throw_error(env, "out of memory");
    return NULL;
  }
  napi_get_value_string_utf8(env, v, s, len + 1, &len);
  if (strlen(s) != len) {
    free(s);
    throw_error(env, "%s must not contain NUL characters", what);
    return NULL;
  }
  return s;
}

/* The CUDA plugin at the path in v; NULL with a JS error thrown when it cannot be loaded. */
static const dg_backend *cuda_backend(napi_env env, napi_value v) {
  char *path = string_value(env, v, "the CUDA plugin path");
  if (!path) return NULL;
  char err[600];
  const dg_backend *be = dg_cuda_plugin_load(path, err, sizeof err);
  free(path);
  if (!be) throw_error(env, "%s", err);
  return be;
}

static napi_value new_float32_array(napi_env env, const float *data, size_t n) {
  napi_value ab, arr;
  void *dst;
  CALL(env, napi_create_arraybuffer(env, n * sizeof(float), &dst, &ab));
  if (n) memcpy(dst, data, n * sizeof(float));
  CALL(env, napi_create_typedarray(env, napi_float32_array, n, ab, 0, &arr));
  return arr;
}

static handle *get_handle(napi_env env, napi_value v) {
  handle *h = NULL;
  if (napi_get_value_external(env, v, (void **)&h) != napi_ok || !h) {
    throw_error(env, "expected a native model handle");
    return NULL;
  }
  if (!h->model) {
    throw_error(env, "the native model has been disposed");
    return NULL;
  }
  return h;
}

/* The model of a handle with no operation in flight (a JS error thrown and NULL otherwise). */
static handle *idle_handle(napi_env env, napi_value v) {
  handle *h = get_handle(env, v);
  if (h && h->busy) {
    throw_error(env, "the native engine is busy with another operation (await the previous call)");
    return NULL;
  }
  return h;
}

/* The length of a JS array of 1 to max elements (0, with `error` thrown, otherwise). */
static uint32_t array_length(napi_env env, napi_value v, uint32_t max, const char *error) {
  uint32_t n = 0;
  bool is_array = false;
  napi_is_array(env, v, &is_array);
  if (!is_array || napi_get_array_length(env, v, &n) != napi_ok || n < 1 || n > max) {
    throw_error(env, "%s", error);
    return 0;
  }
  return n;
}

static void free_handle(handle *h) {
  if (h->gpu)
    h->be->cuda_destroy(h->gpu); /* and its host model */
  else if (h->model)
    h->be->destroy(h->model);
  h->gpu = NULL;
  h->model = NULL;
  free(h->vars);
  h->vars = NULL;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  handle *h = data;
  if (h->busy) { /* an async job still holds it: the job frees it when done */
    h->destroy_when_idle = 2;
    return;
  }
  free_handle(h);
  free(h);
}

/* ---------------------------------------------------------------- create */

static int parse_vars(napi_env env, napi_value cfg, const char *key, dg_var *dst, int max, int *count) {
  napi_value arr;
  uint32_t n = 0;
  *count = 0;
  if (!get_property(env, cfg, key, &arr)) return 1; /* absent = empty */
  if (napi_get_array_length(env, arr, &n) != napi_ok || (int)n > max) return 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v, act;
    char name[16] = {0};
    size_t len;
    if (napi_get_element(env, arr, i, &v) != napi_ok || !get_int(env, v, "dim", &dst[i].dim)) return 0;
    if (!get_property(env, v, "activation", &act) || napi_get_value_string_utf8(env, act, name, sizeof name, &len) != napi_ok) return 0;
    if (strcmp(name, "softmax") == 0)
      dst[i].activation = DG_SOFTMAX;
    else if (strcmp(name, "sigmoid") == 0)
      dst[i].activation = DG_SIGMOID;
    else if (strcmp(name, "tanh") == 0)
      dst[i].activation = DG_TANH;
    else
      return 0;
  }
  *count = (int)n;
  return 1;
}

static int parse_layers(napi_env env, napi_value cfg, const char *key, int *dst, int *count) {
  napi_value arr;
  uint32_t n = 0;
  *count = 0;
  if (!get_property(env, cfg, key, &arr)) return 1;
  if (napi_get_array_length(env, arr, &n) != napi_ok || n > DG_MAX_LAYERS) return 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    double d;
    if (napi_get_element(env, arr, i, &v) != napi_ok || napi_get_value_double(env, v, &d) != napi_ok) return 0;
    dst[i] = (int)d;
  }
  *count = (int)n;
  return 1;
}

/* create({ maxLength, sampleLen, attributes, additionalAttributes, features, genFlags, ...ModelConfig
 * numbers..., threads, dpClipNorm?, dpNoiseMultiplier?, dpExpectedBatch? }, seed, cudaLibrary?): on the CPU, or on the
 * GPU through the CUDA plugin at cudaLibrary. */
static napi_value js_create(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "create(config, seed, cudaLibrary?) takes two or three arguments");
  napi_value cfg = argv[0];
  double seed_d;
  if (napi_get_value_double(env, argv[1], &seed_d) != napi_ok || seed_d < 0 || seed_d > 4294967295.0 || seed_d != (double)(uint32_t)seed_d)
    return throw_error(env, "seed must be an integer in [0, 2^32)");
  const dg_backend *be = &dg_cpu_backend;
  if (argc >= 3 && !is_nullish(env, argv[2]) && !(be = cuda_backend(env, argv[2]))) return NULL;

  uint32_t na = 0, nm = 0, nf = 0;
  napi_value tmp;
  if (get_property(env, cfg, "attributes", &tmp)) napi_get_array_length(env, tmp, &na);
  if (get_property(env, cfg, "additionalAttributes", &tmp)) napi_get_array_length(env, tmp, &nm);
  if (get_property(env, cfg, "features", &tmp)) napi_get_array_length(env, tmp, &nf);
  handle *h = calloc(1, sizeof(handle));
  if (!h) return throw_error(env, "out of memory");
  h->vars = calloc(na + nm + nf + 1, sizeof(dg_var));
  if (!h->vars) {
    free(h);
    return throw_error(env, "out of memory");
  }
  dg_config *c = &h->config;
  double d;
  int ok = parse_vars(env, cfg, "attributes", h->vars, (int)na, &c->n_attributes) &&
           parse_vars(env, cfg, "additionalAttributes", h->vars + na, (int)nm, &c->n_additional) &&
           parse_vars(env, cfg, "features", h->vars + na + nm, (int)nf, &c->n_features) &&
           parse_layers(env, cfg, "attributeHidden", c->attribute_hidden, &c->n_attribute_hidden) &&
           parse_layers(env, cfg, "minMaxHidden", c->minmax_hidden, &c->n_minmax_hidden) &&
           parse_layers(env, cfg, "criticHidden", c->critic_hidden, &c->n_critic_hidden) &&
           parse_layers(env, cfg, "auxCriticHidden", c->aux_hidden, &c->n_aux_hidden);
  c->attributes = h->vars;
  c->additional = h->vars + na;
  c->features = h->vars + na + nm;
  const char *missing = NULL;
#define INT_FIELD(key, field) \
  if (ok && !get_int(env, cfg, key, &c->field)) missing = key, ok = 0;
#define FLOAT_FIELD(key, field) \
  if (ok && !get_number(env, cfg, key, &d)) missing = key, ok = 0; else c->field = (float)d;
  INT_FIELD("maxLength", max_length);
  INT_FIELD("sampleLen", sample_len);
  INT_FIELD("attributeNoiseDim", attribute_noise_dim);
  INT_FIELD("minMaxNoiseDim", minmax_noise_dim);
  INT_FIELD("featureNoiseDim", feature_noise_dim);
  INT_FIELD("lstmUnits", lstm_units);
  INT_FIELD("criticSteps", critic_steps);
  FLOAT_FIELD("auxCriticWeight", aux_critic_weight);
  FLOAT_FIELD("gradientPenaltyWeight", gradient_penalty_weight);
  FLOAT_FIELD("generatorLearningRate", generator_lr);
  FLOAT_FIELD("criticLearningRate", critic_lr);
  FLOAT_FIELD("auxCriticLearningRate", aux_critic_lr);
  FLOAT_FIELD("adamBeta1", adam_beta1);
  FLOAT_FIELD("adamBeta2", adam_beta2);
  FLOAT_FIELD("batchNormMomentum", batch_norm_momentum);
#undef INT_FIELD
#undef FLOAT_FIELD
  napi_value gf;
  bool flag = false;
  if (ok && get_property(env, cfg, "genFlags", &gf)) napi_get_value_bool(env, gf, &flag);
  c->gen_flags = flag;
  if (ok && get_number(env, cfg, "threads", &d)) c->threads = (int)d;
  /* DP-SGD on the critics (absent: off). Infinity arrives as a double and stays infinite as a float. */
  if (ok && get_number(env, cfg, "dpClipNorm", &d)) c->dp_clip_norm = (float)d;
  if (ok && get_number(env, cfg, "dpNoiseMultiplier", &d)) c->dp_noise_multiplier = (float)d;
  if (ok && get_number(env, cfg, "dpExpectedBatch", &d)) c->dp_expected_batch = (int)d;
  if (!ok) {
    free(h->vars);
    free(h);
    return missing ? throw_error(env, "config.%s is missing or not a number", missing)
                   : throw_error(env, "config has a malformed variable or layer list");
  }
  h->seed = (uint32_t)seed_d;
  h->be = be;
  int rc = be->cuda_create ? be->cuda_create(c, h->seed, &h->gpu) : be->create(c, h->seed, &h->model);
  if (rc == DG_OK && h->gpu) h->model = be->cuda_host_model(h->gpu);
  if (rc != DG_OK) {
    napi_value r = throw_error(env, "%s", be->error_message());
    free(h->vars);
    free(h);
    return r;
  }
  napi_value ext;
  if (napi_create_external(env, h, finalize_handle, NULL, &ext) != napi_ok) {
    free_handle(h);
    free(h);
    return throw_error(env, "cannot wrap the model");
  }
  return ext;
}

static napi_value js_destroy(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle *h = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&h) != napi_ok || !h) return throw_error(env, "expected a native model handle");
  if (h->busy)
    h->destroy_when_idle = 1;
  else
    free_handle(h);
  return NULL;
}

/* ---------------------------------------------------------------- async jobs */

enum { JOB_TRAIN, JOB_TRAIN_ROWS, JOB_GENERATE, JOB_SCORES, JOB_DUMP };

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  handle *h;
  int kind;
  int rc;
  char error[512];
  /* inputs (copies) */
  int n_batches;
  dg_batch batches[16];
  const float *batch_sources[16][3]; /* the JS arrays' data each batch was copied from */
  const int32_t *batch_ids[16];      /* and its ids' */
  int32_t *rows[16];                 /* JOB_TRAIN_ROWS: copies of each critic step's row numbers */
  int rows_per_batch;
  float *owned[48];
  int n_owned;
  int32_t *owned_ids[16]; /* copies of the batches' training-set row ids */
  int n;
  float *given_attr, *given_add;
  char *path;
  /* outputs */
  dg_losses losses;
  float *out_attr, *out_add, *out_feat, *out_scores;
  int32_t *out_len;
  /* JOB_GENERATE writes into JS ArrayBuffers made before it starts (kept alive by these references),
   * so the series are not held twice: 50,000 WWT-shaped series are 330 MB. out_attr, out_add,
   * out_feat and out_len point into them. */
  napi_ref out_buffers[4];
} job;

static void free_job(napi_env env, job *j) {
  for (int i = 0; i < j->n_owned; i++) free(j->owned[i]);
  for (int i = 0; i < 16; i++) free(j->rows[i]), free(j->owned_ids[i]);
  for (int i = 0; i < 4; i++)
    if (j->out_buffers[i]) napi_delete_reference(env, j->out_buffers[i]);
  free(j->out_scores);
  free(j->path);
  free(j);
}

/* A new ArrayBuffer of `bytes` for a job to write into off the JS thread, at *data (NULL when empty);
 * 0 after throwing. */
static int job_output_buffer(napi_env env, job *j, int slot, size_t bytes, void **data) {
  napi_value ab;
  *data = NULL;
  if (napi_create_arraybuffer(env, bytes, data, &ab) != napi_ok || napi_create_reference(env, ab, 1, &j->out_buffers[slot]) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) throw_error(env, "out of memory for the generated series (%zu MB)", bytes >> 20);
    return 0;
  }
  return 1;
}

/* A typed array over a job's output buffer. */
static napi_value job_output_array(napi_env env, job *j, int slot, napi_typedarray_type type, size_t n) {
  napi_value ab, arr;
  CALL(env, napi_get_reference_value(env, j->out_buffers[slot], &ab));
  CALL(env, napi_create_typedarray(env, type, n, ab, 0, &arr));
  return arr;
}

static float *own_copy(job *j, const float *src, size_t n) {
  float *p = malloc(sizeof(float) * (n ? n : 1));
  if (!p) return NULL;
  if (n) memcpy(p, src, sizeof(float) * n);
  j->owned[j->n_owned++] = p;
  return p;
}

/* Points b at the arrays of a JS batch { size, attributes, additionalAttributes, features, rows? } (JS
 * memory: valid during this call only) after checking their shapes against the model of h. rows, the
 * series' training-set row ids (an Int32Array of size), become b->ids; DP-SGD on Poisson-sampled
 * batches needs them (dg.h, dp_expected_batch). */
static int batch_arrays(napi_env env, handle *h, napi_value v, dg_batch *b) {
  dg_dims d;
  h->be->get_dims(h->model, &d);
  int size;
  float *a = NULL, *m = NULL, *f = NULL;
  size_t na = 0, nm = 0, nf = 0;
  napi_value t;
  if (!get_int(env, v, "size", &size) || size < 1) {
    throw_error(env, "a batch needs a positive size");
    return 0;
  }
  if (!get_property(env, v, "attributes", &t) || !float32_array(env, t, &a, &na) || !get_property(env, v, "features", &t) ||
      !float32_array(env, t, &f, &nf)) {
    throw_error(env, "a batch needs Float32Array attributes and features");
    return 0;
  }
  if (get_property(env, v, "additionalAttributes", &t) && !float32_array(env, t, &m, &nm)) {
    throw_error(env, "batch.additionalAttributes must be a Float32Array");
    return 0;
  }
  if (na != (size_t)size * d.attribute || nf != (size_t)size * d.T * d.feature || nm != (size_t)size * d.additional) {
    throw_error(env, "batch of %d: attributes %zu (want %zu), additionalAttributes %zu (want %zu), features %zu (want %zu) values", size, na,
                (size_t)size * d.attribute, nm, (size_t)size * d.additional, nf, (size_t)size * d.T * d.feature);
    return 0;
  }
  int32_t *ids = NULL;
  size_t n_ids = 0;
  if (get_property(env, v, "rows", &t) && (!typed_array(env, t, napi_int32_array, (void **)&ids, &n_ids) || n_ids != (size_t)size)) {
    throw_error(env, "batch.rows must be an Int32Array of the batch's %d training-set row numbers", size);
    return 0;
  }
  *b = (dg_batch){.size = size, .attributes = a, .additional = m, .features = f, .ids = ids};
  return 1;
}

/* Copies JS batch number i of a job after checking its shapes. The training loop passes one batch for
 * every critic step: arrays already copied for an earlier batch of this call are shared, not copied
 * again (and the CUDA core then uploads them once). */
static int copy_batch(napi_env env, job *j, napi_value v, int i) {
  dg_batch *b = &j->batches[i], js;
  if (!batch_arrays(env, j->h, v, &js)) return 0;
  const float *a = js.attributes, *m = js.additional, *f = js.features;
  int size = js.size;
  dg_dims d;
  j->h->be->get_dims(j->h->model, &d);
  size_t na = (size_t)size * d.attribute, nm = (size_t)size * d.additional, nf = (size_t)size * d.T * d.feature;
  const float *sources[3] = {a, m, f};
  memcpy(j->batch_sources[i], sources, sizeof sources);
  j->batch_ids[i] = js.ids;
  for (int k = 0; k < i; k++)
    if (j->batches[k].size == size && memcmp(j->batch_sources[k], sources, sizeof sources) == 0 && j->batch_ids[k] == js.ids) {
      *b = j->batches[k];
      return 1;
    }
  b->size = size;
  b->ids = NULL;
  if (js.ids) {
    if (!(j->owned_ids[i] = malloc(sizeof(int32_t) * size))) {
      throw_error(env, "out of memory copying a batch");
      return 0;
    }
    memcpy(j->owned_ids[i], js.ids, sizeof(int32_t) * size);
    b->ids = j->owned_ids[i];
  }
  b->attributes = own_copy(j, a, na);
  b->additional = own_copy(j, m, nm);
  b->features = own_copy(j, f, nf);
  if (!b->attributes || !b->additional || !b->features) {
    throw_error(env, "out of memory copying a batch");
    return 0;
  }
  return 1;
}

/* ---------------------------------------------------------------- the model, on either backend */

static int model_train(handle *h, const dg_batch *batches, int n, dg_losses *out) {
  return h->gpu ? h->be->cuda_train_step(h->gpu, batches, n, out) : h->be->train_step(h->model, batches, n, out);
}

static int model_generate(handle *h, int n, const float *given_attr, const float *given_add, float *attr, float *add, float *feat, int32_t *len) {
  return h->gpu ? h->be->cuda_generate(h->gpu, n, given_attr, given_add, attr, add, feat, len)
                : h->be->generate(h->model, n, given_attr, given_add, attr, add, feat, len);
}

/* A CUDA model's state lives on the device: these bring the host model up to date before it is read
 * (device -> host, only when training or generation changed the device since the last sync: critic
 * scores come in many batches), and the device after the host model was written (host -> device). */
static int state_to_host(handle *h) {
  if (!h->gpu || !h->host_stale) return DG_OK;
  int rc = h->be->cuda_download(h->gpu);
  if (rc == DG_OK) h->host_stale = 0;
  return rc;
}

static int state_to_device(handle *h) {
  if (!h->gpu) return DG_OK;
  h->host_stale = 1; /* until the upload is known to be complete */
  int rc = h->be->cuda_upload(h->gpu);
  if (rc == DG_OK) h->host_stale = 0;
  return rc;
}

static void execute(napi_env env, void *data) {
  job *j = data;
  handle *h = j->h;
  const dg_backend *be = h->be;
  dg_model *m = h->model;
  dg_dims d;
  be->get_dims(m, &d);
  /* Training and generation (its noise position) change the device's state, even when they fail. */
  if (j->kind == JOB_TRAIN || j->kind == JOB_TRAIN_ROWS || j->kind == JOB_GENERATE) h->host_stale = 1;
  switch (j->kind) {
    case JOB_TRAIN:
      j->rc = model_train(h, j->batches, j->n_batches, &j->losses);
      break;
    case JOB_TRAIN_ROWS:
      j->rc = be->cuda_train_step_rows(h->gpu, (const int32_t *const *)j->rows, j->n_batches, j->rows_per_batch, &j->losses);
      break;
    case JOB_GENERATE:
      j->rc = model_generate(h, j->n, j->given_attr, j->given_add, j->out_attr, j->out_add, j->out_feat, j->out_len);
      break;
    case JOB_SCORES: /* on the CPU for CUDA models too: one critic forward pass over the host model */
      j->out_scores = malloc(sizeof(float) * (j->batches[0].size + 1));
      if (!j->out_scores) {
        j->rc = DG_ERR_ALLOC;
        snprintf(j->error, sizeof j->error, "out of memory for %d critic scores", j->batches[0].size);
        return;
      }
      j->rc = state_to_host(h);
      if (j->rc == DG_OK) j->rc = be->critic_scores(m, &j->batches[0], j->out_scores);
      break;
    case JOB_DUMP:
      j->rc = dg_dump_iteration(m, &j->h->config, j->h->seed, j->batches, j->n_batches, j->path);
      break;
  }
  /* The backend's own message: a CUDA plugin keeps its (thread-local) message in its copy of the core. */
  if (j->rc != DG_OK && !j->error[0]) snprintf(j->error, sizeof j->error, "%s", be->error_message()[0] ? be->error_message() : "native engine error");
}

static napi_value losses_object(napi_env env, const dg_losses *l, int dp_on) {
  napi_value o, v;
  CALL(env, napi_create_object(env, &o));
  const char *names[6] = {"critic", "auxCritic", "gradientPenalty", "auxGradientPenalty", "generator", "wassersteinDistance"};
  float values[6] = {l->critic, l->aux_critic, l->gradient_penalty, l->aux_gradient_penalty, l->generator, l->wasserstein_distance};
  for (int i = 0; i < 6; i++) {
    CALL(env, napi_create_double(env, values[i], &v));
    CALL(env, napi_set_named_property(env, o, names[i], v));
  }
  if (dp_on) { /* dp: { gradNorm, clippedFraction, auxGradNorm, auxClippedFraction } */
    napi_value dp;
    CALL(env, napi_create_object(env, &dp));
    const char *dp_names[4] = {"gradNorm", "clippedFraction", "auxGradNorm", "auxClippedFraction"};
    float dp_values[4] = {l->dp_grad_norm, l->dp_clipped_fraction, l->aux_dp_grad_norm, l->aux_dp_clipped_fraction};
    for (int i = 0; i < 4; i++) {
      CALL(env, napi_create_double(env, dp_values[i], &v));
      CALL(env, napi_set_named_property(env, dp, dp_names[i], v));
    }
    CALL(env, napi_set_named_property(env, o, "dp", dp));
  }
  return o;
}

static napi_value job_result(napi_env env, job *j) {
  dg_dims d;
  j->h->be->get_dims(j->h->model, &d);
  napi_value r = NULL, v;
  size_t n = j->n;
  switch (j->kind) {
    case JOB_TRAIN:
    case JOB_TRAIN_ROWS:
      return losses_object(env, &j->losses, dg_dp_enabled(&j->h->config));
    case JOB_GENERATE: {
      CALL(env, napi_create_object(env, &r));
      const char *names[4] = {"attributes", "additionalAttributes", "features", "lengths"};
      size_t lengths[4] = {n * d.attribute, n * d.additional, n * d.T * d.feature, n};
      for (int i = 0; i < 4; i++) {
        if (!(v = job_output_array(env, j, i, i == 3 ? napi_int32_array : napi_float32_array, lengths[i]))) return NULL;
        CALL(env, napi_set_named_property(env, r, names[i], v));
      }
      return r;
    }
    case JOB_SCORES:
      return new_float32_array(env, j->out_scores, j->batches[0].size);
    default:
      CALL(env, napi_get_undefined(env, &r));
      return r;
  }
}

static void complete(napi_env env, napi_status status, void *data) {
  job *j = data;
  handle *h = j->h;
  h->busy = 0;
  napi_value result = NULL, err = NULL, msg;
  if (status != napi_ok) {
    j->rc = -1;
    snprintf(j->error, sizeof j->error, "the native operation was cancelled");
  }
  if (j->rc == DG_OK) result = job_result(env, j);
  if (j->rc == DG_OK && result) {
    napi_resolve_deferred(env, j->deferred, result);
  } else {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_get_and_clear_last_exception(env, &err);
    } else {
      napi_create_string_utf8(env, j->error[0] ? j->error : "native engine error", NAPI_AUTO_LENGTH, &msg);
      napi_create_error(env, NULL, msg, &err);
    }
    napi_reject_deferred(env, j->deferred, err);
  }
  napi_delete_async_work(env, j->work);
  free_job(env, j);
  if (h->destroy_when_idle) {
    int also_free = h->destroy_when_idle == 2;
    free_handle(h);
    if (also_free) free(h);
  }
}

/* Starts a job whose inputs are filled in; returns its promise. */
static napi_value start_job(napi_env env, job *j, const char *name) {
  napi_value promise, resource_name;
  if (napi_create_promise(env, &j->deferred, &promise) != napi_ok) {
    free_job(env, j);
    return throw_error(env, "cannot create a promise");
  }
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  if (napi_create_async_work(env, NULL, resource_name, execute, complete, j, &j->work) != napi_ok ||
      napi_queue_async_work(env, j->work) != napi_ok) {
    napi_value msg, err;
    napi_create_string_utf8(env, "cannot queue the native operation", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, j->deferred, err);
    free_job(env, j);
    return promise;
  }
  j->h->busy = 1;
  return promise;
}

static job *new_job(napi_env env, napi_value handle_value, int kind) {
  handle *h = idle_handle(env, handle_value);
  if (!h) return NULL;
  job *j = calloc(1, sizeof(job));
  if (!j) {
    throw_error(env, "out of memory");
    return NULL;
  }
  j->h = h;
  j->kind = kind;
  return j;
}

static int copy_batches(napi_env env, job *j, napi_value arr) {
  uint32_t n = array_length(env, arr, 16, "expected an array of 1 to 16 batches");
  if (!n) return 0;
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    if (napi_get_element(env, arr, i, &v) != napi_ok || !copy_batch(env, j, v, (int)i)) return 0;
  }
  j->n_batches = (int)n;
  return 1;
}

static napi_value js_train_step(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "trainStep(handle, batches)");
  job *j = new_job(env, argv[0], JOB_TRAIN);
  if (!j) return NULL;
  if (!copy_batches(env, j, argv[1])) {
    free_job(env, j);
    return NULL;
  }
  return start_job(env, j, "dg.trainStep");
}

/* holdTrainingData(handle, all): the whole training set as one batch, kept by a CUDA model on the GPU
 * (copied now, synchronously), for trainStepRows. */
static napi_value js_hold_training_data(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "holdTrainingData(handle, trainingSet)");
  handle *h = idle_handle(env, argv[0]);
  if (!h) return NULL;
  if (!h->gpu) return throw_error(env, "holdTrainingData: only a CUDA model holds its training set (the CPU engine reads batches in place)");
  dg_batch all;
  if (!batch_arrays(env, h, argv[1], &all)) return NULL;
  if (h->be->cuda_hold_training_data(h->gpu, &all) != DG_OK) return throw_error(env, "%s", h->be->error_message());
  return NULL;
}

/* trainStepRows(handle, rows): trainStep on rows of the held training set, one Int32Array of row
 * numbers (all of one length, the batch size) per critic step. */
static napi_value js_train_step_rows(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "trainStepRows(handle, rows)");
  job *j = new_job(env, argv[0], JOB_TRAIN_ROWS);
  if (!j) return NULL;
  if (!j->h->gpu) {
    free_job(env, j);
    return throw_error(env, "trainStepRows: only a CUDA model holds its training set");
  }
  uint32_t n = array_length(env, argv[1], 16, "trainStepRows: expected an array of 1 to 16 Int32Arrays of row numbers");
  if (!n) {
    free_job(env, j);
    return NULL;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    bool is_typed = false;
    napi_typedarray_type type;
    size_t length = 0, offset;
    void *data;
    napi_value ab;
    if (napi_get_element(env, argv[1], i, &v) != napi_ok || napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
        napi_get_typedarray_info(env, v, &type, &length, &data, &ab, &offset) != napi_ok || type != napi_int32_array || length < 1 ||
        length > (size_t)INT32_MAX || (i > 0 && length != (size_t)j->rows_per_batch)) {
      free_job(env, j);
      return throw_error(env, "trainStepRows: rows[%u] must be an Int32Array of row numbers as long as rows[0] (the batch size)", i);
    }
    j->rows_per_batch = (int)length;
    j->rows[i] = malloc(sizeof(int32_t) * length);
    if (!j->rows[i]) {
      free_job(env, j);
      return throw_error(env, "out of memory copying row numbers");
    }
    memcpy(j->rows[i], data, sizeof(int32_t) * length);
  }
  j->n_batches = (int)n;
  return start_job(env, j, "dg.trainStepRows");
}

static napi_value js_generate(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "generate(handle, n, givenAttributes?, givenAdditional?)");
  job *j = new_job(env, argv[0], JOB_GENERATE);
  if (!j) return NULL;
  double n;
  dg_dims d;
  j->h->be->get_dims(j->h->model, &d);
  if (napi_get_value_double(env, argv[1], &n) != napi_ok || n < 0 || n != (double)(int)n || n > 1e8) {
    free_job(env, j);
    return throw_error(env, "n must be a non-negative integer");
  }
  j->n = (int)n;
  for (int k = 0; k < 2; k++) {
    napi_valuetype t = napi_undefined;
    if ((size_t)(2 + k) < argc) napi_typeof(env, argv[2 + k], &t);
    if (t == napi_undefined || t == napi_null) continue;
    float *data;
    size_t len;
    size_t want = (size_t)j->n * (k == 0 ? d.attribute : d.additional);
    if (!float32_array(env, argv[2 + k], &data, &len) || len != want) {
      free_job(env, j);
      return throw_error(env, "%s must be a Float32Array of %zu values", k == 0 ? "givenAttributes" : "givenAdditionalAttributes", want);
    }
    float *copy = own_copy(j, data, len);
    if (!copy) {
      free_job(env, j);
      return throw_error(env, "out of memory");
    }
    if (k == 0)
      j->given_attr = copy;
    else
      j->given_add = copy;
  }
  if (j->given_add && !j->given_attr) {
    free_job(env, j);
    return throw_error(env, "givenAdditionalAttributes need givenAttributes too");
  }
  size_t n_series = (size_t)j->n;
  if (!job_output_buffer(env, j, 0, sizeof(float) * n_series * d.attribute, (void **)&j->out_attr) ||
      !job_output_buffer(env, j, 1, sizeof(float) * n_series * d.additional, (void **)&j->out_add) ||
      !job_output_buffer(env, j, 2, sizeof(float) * n_series * d.T * d.feature, (void **)&j->out_feat) ||
      !job_output_buffer(env, j, 3, sizeof(int32_t) * n_series, (void **)&j->out_len)) {
    free_job(env, j);
    return NULL;
  }
  return start_job(env, j, "dg.generate");
}

static napi_value js_critic_scores(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_error(env, "criticScores(handle, batch)");
  job *j = new_job(env, argv[0], JOB_SCORES);
  if (!j) return NULL;
  if (!copy_batch(env, j, argv[1], 0)) {
    free_job(env, j);
    return NULL;
  }
  j->n_batches = 1;
  return start_job(env, j, "dg.criticScores");
}

static napi_value js_dump_iteration(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_error(env, "dumpIteration(handle, batches, path)");
  job *j = new_job(env, argv[0], JOB_DUMP);
  if (!j) return NULL;
  if (j->h->gpu) { /* the dump reruns pieces of the CPU core's iteration; the CUDA core has no such hooks */
    free_job(env, j);
    return throw_error(env, "dumpIteration runs on the native CPU engine only, not on CUDA");
  }
  if (!copy_batches(env, j, argv[1]) || !(j->path = string_value(env, argv[2], "dumpIteration: path"))) {
    free_job(env, j);
    bool pending;
    napi_is_exception_pending(env, &pending);
    return pending ? NULL : throw_error(env, "dumpIteration: cannot read the batches");
  }
  return start_job(env, j, "dg.dumpIteration");
}

/* ---------------------------------------------------------------- state */

static const char *counter_names[4] = {"generatorStep", "criticStep", "auxCriticStep", "noisePosition"};

static napi_value js_get_state(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle *h = argc ? idle_handle(env, argv[0]) : NULL;
  if (!h) return argc ? NULL : throw_error(env, "getState(handle)");
  const dg_backend *be = h->be;
  if (state_to_host(h) != DG_OK) return throw_error(env, "cannot read the model's state from the GPU: %s", be->error_message());
  napi_value result, tensors, counters, v;
  int n = be->tensor_count(h->model);
  CALL(env, napi_create_object(env, &result));
  CALL(env, napi_create_array_with_length(env, n, &tensors));
  for (int i = 0; i < n; i++) {
    dg_tensor_info ti;
    be->tensor_info_at(h->model, i, &ti);
    napi_value t, name, shape, data;
    CALL(env, napi_create_object(env, &t));
    CALL(env, napi_create_string_utf8(env, ti.name, NAPI_AUTO_LENGTH, &name));
    CALL(env, napi_create_array_with_length(env, ti.ndim, &shape));
    for (int k = 0; k < ti.ndim; k++) {
      CALL(env, napi_create_int32(env, ti.shape[k], &v));
      CALL(env, napi_set_element(env, shape, k, v));
    }
    if (!(data = new_float32_array(env, be->tensor_data(h->model, i), ti.size))) return NULL;
    CALL(env, napi_set_named_property(env, t, "name", name));
    CALL(env, napi_set_named_property(env, t, "shape", shape));
    CALL(env, napi_set_named_property(env, t, "data", data));
    CALL(env, napi_set_element(env, tensors, i, t));
  }
  dg_counters c;
  be->get_counters(h->model, &c);
  double values[4] = {(double)c.generator_step, (double)c.critic_step, (double)c.aux_critic_step, (double)c.noise_position};
  CALL(env, napi_create_object(env, &counters));
  for (int k = 0; k < 4; k++) {
    CALL(env, napi_create_double(env, values[k], &v));
    CALL(env, napi_set_named_property(env, counters, counter_names[k], v));
  }
  CALL(env, napi_set_named_property(env, result, "tensors", tensors));
  CALL(env, napi_set_named_property(env, result, "counters", counters));
  return result;
}

/* setState(handle, tensors [{name, data}], counters): every state tensor and counter must be given,
 * with matching sizes; nothing changes unless all are valid. */
static napi_value js_set_state(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_error(env, "setState(handle, tensors, counters)");
  handle *h = idle_handle(env, argv[0]);
  if (!h) return NULL;
  const dg_backend *be = h->be;
  int n = be->tensor_count(h->model);
  uint32_t given = 0;
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array || napi_get_array_length(env, argv[1], &given) != napi_ok) return throw_error(env, "tensors must be an array");
  float **src = calloc(n, sizeof(float *));
  if (!src) return throw_error(env, "out of memory");
  for (uint32_t i = 0; i < given; i++) {
    napi_value t, name_v, data_v;
    char name[200];
    size_t len;
    float *data;
    size_t count;
    if (napi_get_element(env, argv[1], i, &t) != napi_ok || !get_property(env, t, "name", &name_v) ||
        napi_get_value_string_utf8(env, name_v, name, sizeof name, &len) != napi_ok || !get_property(env, t, "data", &data_v) ||
        !float32_array(env, data_v, &data, &count)) {
      free(src);
      return throw_error(env, "tensor %u needs a name and Float32Array data", i);
    }
    int index = be->tensor_find(h->model, name);
    if (index < 0) {
      free(src);
      return throw_error(env, "unknown tensor '%s' for this model", name);
    }
    dg_tensor_info ti;
    be->tensor_info_at(h->model, index, &ti);
    if (count != ti.size) {
      free(src);
      return throw_error(env, "tensor '%s' has %zu values, this model needs %zu", name, count, ti.size);
    }
    src[index] = data;
  }
  for (int i = 0; i < n; i++)
    if (!src[i]) {
      dg_tensor_info ti;
      be->tensor_info_at(h->model, i, &ti);
      free(src);
      return throw_error(env, "state is missing tensor '%s'", ti.name);
    }
  double values[4];
  for (int k = 0; k < 4; k++)
    if (!get_number(env, argv[2], counter_names[k], &values[k]) || values[k] < 0) {
      free(src);
      return throw_error(env, "counters.%s is missing or negative", counter_names[k]);
    }
  for (int i = 0; i < n; i++) {
    dg_tensor_info ti;
    be->tensor_info_at(h->model, i, &ti);
    memcpy(be->tensor_data(h->model, i), src[i], sizeof(float) * ti.size);
  }
  free(src);
  dg_counters c = {(int64_t)values[0], (int64_t)values[1], (int64_t)values[2], (uint64_t)values[3]};
  if (be->set_counters(h->model, &c) != DG_OK) return throw_error(env, "%s", be->error_message());
  if (state_to_device(h) != DG_OK) return throw_error(env, "cannot copy the state to the GPU: %s", be->error_message());
  return NULL;
}

static napi_value js_info(napi_env env, napi_callback_info info) {
  napi_value o, v;
  CALL(env, napi_create_object(env, &o));
  CALL(env, napi_create_string_utf8(env, dg_kernel_name(), NAPI_AUTO_LENGTH, &v));
  CALL(env, napi_set_named_property(env, o, "kernel", v));
  return o;
}

/* cudaStatus(cudaLibrary) -> { available: true, device } or { available: false, reason }. A plugin that
 * does not load, a missing driver or no usable device is an answer, not an exception: the engine
 * chooser asks this on every machine. Only a path that is not a string throws. */
static napi_value js_cuda_status(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result, v;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_error(env, "cudaStatus(cudaLibrary) takes the CUDA plugin's path");
  char *path = string_value(env, argv[0], "the CUDA plugin path");
  if (!path) return NULL;
  char reason[600] = "", device[256] = "";
  const dg_backend *be = dg_cuda_plugin_load(path, reason, sizeof reason);
  free(path);
  int available = 0;
  if (be && be->cuda_available() != DG_OK)
    snprintf(reason, sizeof reason, "%s", be->error_message());
  else if (be && be->cuda_device_name(device, sizeof device) != DG_OK)
    snprintf(reason, sizeof reason, "%s", be->error_message());
  else if (be)
    available = 1;
  CALL(env, napi_create_object(env, &result));
  CALL(env, napi_get_boolean(env, available, &v));
  CALL(env, napi_set_named_property(env, result, "available", v));
  CALL(env, napi_create_string_utf8(env, available ? device : reason, NAPI_AUTO_LENGTH, &v));
  CALL(env, napi_set_named_property(env, result, available ? "device" : "reason", v));
  return result;
}

static napi_value js_threads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], v;
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  handle *h = argc ? get_handle(env, argv[0]) : NULL;
  if (!h) return NULL;
  CALL(env, napi_create_int32(env, h->be->thread_count(h->model), &v));
  return v;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"create", NULL, js_create, NULL, NULL, NULL, napi_default, NULL},
      {"destroy", NULL, js_destroy, NULL, NULL, NULL, napi_default, NULL},
      {"trainStep", NULL, js_train_step, NULL, NULL, NULL, napi_default, NULL},
      {"holdTrainingData", NULL, js_hold_training_data, NULL, NULL, NULL, napi_default, NULL},
      {"trainStepRows", NULL, js_train_step_rows, NULL, NULL, NULL, napi_default, NULL},
      {"generate", NULL, js_generate, NULL, NULL, NULL, napi_default, NULL},
      {"criticScores", NULL, js_critic_scores, NULL, NULL, NULL, napi_default, NULL},
      {"dumpIteration", NULL, js_dump_iteration, NULL, NULL, NULL, napi_default, NULL},
      {"getState", NULL, js_get_state, NULL, NULL, NULL, napi_default, NULL},
      {"setState", NULL, js_set_state, NULL, NULL, NULL, napi_default, NULL},
      {"info", NULL, js_info, NULL, NULL, NULL, napi_default, NULL},
      {"threads", NULL, js_threads, NULL, NULL, NULL, napi_default, NULL},
      {"cudaStatus", NULL, js_cuda_status, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
