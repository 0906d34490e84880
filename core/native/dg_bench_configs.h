/*
 * The benchmark configurations shared by bench_dg.c and test_dg_cuda.cu: WWT-shaped (T=550, S=10) and
 * short (T=50, S=5) models with the paper's sizes, and a plausible encoded real batch.
 */
#ifndef DG_BENCH_CONFIGS_H
#define DG_BENCH_CONFIGS_H

#include "dg.h"

#include <string.h>

/* WWT-shaped: 1 continuous feature (sigmoid) + gen flags; attributes categorical 9/3/2; auto-normalized
 * (two additional attributes); LSTM 100; critics 4 x 200; paper defaults otherwise. */
static const dg_var wwt_attrs[] = {{9, DG_SOFTMAX}, {3, DG_SOFTMAX}, {2, DG_SOFTMAX}};
static const dg_var wwt_add[] = {{1, DG_SIGMOID}, {1, DG_SIGMOID}};
static const dg_var wwt_feats[] = {{1, DG_SIGMOID}, {2, DG_SOFTMAX}};

static inline dg_config wwt_config(int T, int S, int threads) {
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
static inline void fill_batch(dg_batch *b, int B, const dg_dims *d, float *attr, float *add, float *feat) {
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

#endif
