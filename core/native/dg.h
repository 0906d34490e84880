/*
 * dg: the native DoppelGANger training core (CPU). Plain C, one model object per training run.
 *
 * The math is core/model/README.md, the parameter layout and initialization core/model/params.ts, the
 * random numbers core/util/rng.ts (Philox4x32-10). Tensor names match params.ts exactly, so weights and
 * checkpoints move between this core and the TF.js reference engine unchanged.
 *
 * Every function returns DG_OK or an error code; dg_error_message() then says what went wrong (the
 * message is per thread: read it on the thread that made the failing call). Nothing here aborts.
 * One model must not be used from two threads at once; different models are independent.
 */
#ifndef DG_H
#define DG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
  DG_OK = 0,
  DG_ERR_CONFIG = 1,  /* the configuration is inconsistent (sizes, S not dividing T, ...) */
  DG_ERR_ALLOC = 2,   /* out of memory */
  DG_ERR_ARG = 3,     /* a bad argument (batch size, tensor index, NULL pointer, ...) */
  DG_ERR_NUMERIC = 4, /* a loss or gradient became NaN/Inf: training diverged */
  DG_ERR_IO = 5,      /* a file could not be read or written, or is malformed */
};

/* Output activation of one encoded variable (a contiguous slice of `dim` floats). */
enum { DG_SOFTMAX = 0, DG_SIGMOID = 1, DG_TANH = 2 };

#define DG_MAX_LAYERS 16

typedef struct {
  int dim;
  int activation; /* DG_SOFTMAX, DG_SIGMOID or DG_TANH */
} dg_var;

/* Mirrors ModelConfig (core/model/config.ts) and its EncodedLayout. */
typedef struct {
  int max_length; /* T */
  int n_attributes;
  const dg_var *attributes;
  int n_additional; /* auto-normalization's (max+min)/2, (max-min)/2 per continuous feature; 0 when off */
  const dg_var *additional;
  int n_features; /* the last one is the gen-flag pair [continues, ends] when gen_flags is set */
  const dg_var *features;
  int gen_flags;
  int sample_len; /* S; must divide T */
  int attribute_noise_dim;
  int minmax_noise_dim;
  int feature_noise_dim;
  int n_attribute_hidden;
  int attribute_hidden[DG_MAX_LAYERS];
  int n_minmax_hidden;
  int minmax_hidden[DG_MAX_LAYERS];
  int lstm_units;
  int n_critic_hidden;
  int critic_hidden[DG_MAX_LAYERS];
  int n_aux_hidden; /* 0 disables the auxiliary critic */
  int aux_hidden[DG_MAX_LAYERS];
  float aux_critic_weight;      /* alpha */
  float gradient_penalty_weight; /* lambda */
  float generator_lr;
  float critic_lr;
  float aux_critic_lr;
  float adam_beta1;
  float adam_beta2;
  int critic_steps;
  float batch_norm_momentum;
  int threads; /* worker threads for the GEMMs and noise; 0 = every online CPU */
  /* DP-SGD on both critics (the generator only sees the critics, so it needs none): per critic step,
   * each example's gradient of its own loss term is clipped to L2 norm <= dp_clip_norm (over all of
   * that critic's parameters), the clipped gradients summed, N(0, (dp_noise_multiplier *
   * dp_clip_norm)^2) added to each coordinate and the result divided by B. dp_clip_norm <= 0 or
   * infinite turns it off (then dp_noise_multiplier must be 0). The noise comes from the OS's secure
   * randomness, not the seed: a run with noise is not bit-reproducible. Zeroed configs have it off. */
  float dp_clip_norm;
  float dp_noise_multiplier;
  /* With DP-SGD on Poisson-sampled batches (each series kept with probability q, so every iteration's
   * batch has its own size), the expected batch size E = qN. Then nothing the model keeps or reveals
   * depends on which or how many series were sampled, other than through the clipped, noised sums:
   * - the critics' clipped, noised sums are divided by E instead of the batch's size (Opacus does the
   *   same);
   * - every critic step generates E fake series (batch norm over those E alone) and every generator
   *   step E, so the noise position advances by the same amount every iteration;
   * - real example b (training-set row id r = ids[b], which dg_batch must then carry) is paired with
   *   fake series j in [0, E) and gets its interpolation weights (main and aux) from a draw keyed by
   *   (critic step k, r) alone (Rng(seed, stream 4), draws k 2^33 + 4r ..+2, see dg_cpu.c,
   *   pair_examples), so its clipped term -D(real) + D(fake_j) + lambda GP(x_hat) does not depend on
   *   which other series were sampled: adding or removing one series changes the clipped sum by that
   *   series' term alone, as DP-SGD's sensitivity argument needs.
   * 0: fixed-size batches, divided by their size, paired by batch slot. Needs DP on. */
  int dp_expected_batch;
} dg_config;

/* Whether the config turns DP-SGD on (a finite, positive dp_clip_norm). */
int dg_dp_enabled(const dg_config *config);

typedef struct dg_model dg_model;

/* One batch of real, encoded series: attributes [size, A], additional [size, M], features [size, T, F].
 * ids [size] (may be NULL, except for training with dp_expected_batch > 0): each series' row number in
 * the training set (0 .. 2^31 - 1), which keys its fake partner and interpolation weights under DP-SGD
 * on Poisson-sampled batches (see dg_config.dp_expected_batch); ignored otherwise. */
typedef struct {
  int size;
  const float *attributes;
  const float *additional;
  const float *features;
  const int32_t *ids;
} dg_batch;

/* Same meaning as StepLosses (core/model/engine.ts). With several critic steps the critic-side values
 * are the last critic step's. */
typedef struct {
  float critic;
  float aux_critic;
  float gradient_penalty;     /* gp alone (mean (|g|-1)^2), without lambda */
  float aux_gradient_penalty;
  float generator;
  float wasserstein_distance; /* mean D(real) - mean D(fake) */
  /* DP-SGD (0 when off): mean per-example gradient norm before clipping, and the share of examples
   * whose norm exceeded dp_clip_norm, for the main and the auxiliary critic. */
  float dp_grad_norm;
  float dp_clipped_fraction;
  float aux_dp_grad_norm;
  float aux_dp_clipped_fraction;
} dg_losses;

typedef struct {
  int attribute;  /* A: encoded attribute width */
  int additional; /* M */
  int feature;    /* F */
  int T, S, steps;
  int lstm_input;
  int critic_input;
  int aux_input;
  int has_aux;
} dg_dims;

/* What a state tensor is: a parameter, a batch-norm buffer, or one of a parameter's two Adam slots. */
enum { DG_TENSOR_PARAM = 0, DG_TENSOR_BUFFER = 1, DG_TENSOR_ADAM_M = 2, DG_TENSOR_ADAM_V = 3 };
enum { DG_NET_GENERATOR = 0, DG_NET_CRITIC = 1, DG_NET_AUX = 2 };

typedef struct {
  const char *name; /* e.g. "critic.dense0.kernel", "gen.attr.bn0.movingMean", "gen.feat.out.bias.adam.m" */
  int ndim;         /* 1 or 2 */
  int shape[2];
  size_t size;
  int kind;         /* DG_TENSOR_* */
  int network;      /* DG_NET_* (buffers: generator) */
} dg_tensor_info;

typedef struct {
  int64_t generator_step;
  int64_t critic_step;
  int64_t aux_critic_step;
  /* draws taken from Rng(seed, stream 2). With dp_expected_batch > 0 every iteration advances it by the
   * same amount (E fake series per critic and generator step), so a checkpoint does not reveal the
   * sample sizes; otherwise by an amount that grows with each batch's size. */
  uint64_t noise_position;
} dg_counters;

const char *dg_error_message(void);

/* Builds the model with parameters from initialParameters(config, seed) and zeroed optimizer state. */
int dg_create(const dg_config *config, uint32_t seed, dg_model **out);
void dg_destroy(dg_model *model);

int dg_get_dims(const dg_model *model, dg_dims *out);

/* One iteration: config.critic_steps critic updates (batches[0..critic_steps-1], one each), then one
 * generator update with a fresh fake batch of batches[0].size rows. With dp_expected_batch = E > 0 each
 * critic step pairs its real series with E fresh fake series by their ids (refused without ids) and
 * the generator step takes E fake series (see dg_config.dp_expected_batch). */
int dg_train_step(dg_model *model, const dg_batch *batches, int n_batches, dg_losses *out);

/* n generated series (running batch-norm statistics). given_attributes [n, A] / given_additional
 * [n, M] may be NULL (given_additional only together with given_attributes). Outputs: attributes
 * [n, A], additional [n, M] (may be NULL when M = 0), features [n, T, F] masked after each end,
 * lengths [n]. */
int dg_generate(dg_model *model, int n, const float *given_attributes, const float *given_additional,
                float *attributes, float *additional, float *features, int32_t *lengths);

/* Main critic output D(x) per example of a real batch, into scores[batch->size]. */
int dg_critic_scores(dg_model *model, const dg_batch *batch, float *scores);

/* State: parameters (canonical order), buffers, then per parameter its Adam m and v. */
int dg_tensor_count(const dg_model *model);
int dg_tensor_info_at(const dg_model *model, int index, dg_tensor_info *out);
/* Index of the tensor with this name, or -1. */
int dg_tensor_find(const dg_model *model, const char *name);
/* Direct access to a state tensor's storage (size floats); writes take effect on the next call. */
float *dg_tensor_data(dg_model *model, int index);
int dg_get_counters(const dg_model *model, dg_counters *out);
int dg_set_counters(dg_model *model, const dg_counters *counters);

/* Which GEMM kernel runs ("avx2-fma" or "portable") and how many threads. */
const char *dg_kernel_name(void);
int dg_thread_count(const dg_model *model);

#ifdef __cplusplus
}
#endif
#endif
