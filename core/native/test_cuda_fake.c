/*
 * A stand-in for the CUDA plugin, for testing the binding's CUDA path on machines without a GPU
 * (tests/native-cuda.test.ts): the dg_cuda_* API of dg_cuda.h implemented with the CPU core. Built
 * like the real plugin (its own copy of the core, -Bsymbolic) as out/libdg_cuda_fake.so by
 * `make -C core/native cuda-fake`; never installed or loaded by default.
 *
 * The "device" is a second CPU model: training and generation run on it, and the host model (the one
 * the binding reads and writes) only changes on dg_cuda_download / dg_cuda_upload, as with the real
 * plugin. A binding that forgot a download or an upload would read or train on stale state.
 */
#include "dg_cuda.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dg_internal.h"

struct dg_cuda {
  dg_model *host;   /* names and stores the state for the binding */
  dg_model *device; /* trains and generates */
  /* dg_cuda_hold_training_data's copy, and the batches gathered from it */
  float *held[3];
  int held_n;
  float *gathered[16][3];
};

int dg_cuda_available(void) { return getenv("DG_FAKE_CUDA_FAIL") ? dg_fail(DG_ERR_CONFIG, "no CUDA device: fake failure") : DG_OK; }

int dg_cuda_device_name(char *out, size_t size) {
  if (!out || size == 0) return dg_fail(DG_ERR_ARG, "dg_cuda_device_name needs a buffer");
  strncpy(out, "fake CUDA device (CPU core), sm_00, 0 GiB", size - 1);
  out[size - 1] = 0;
  return DG_OK;
}

void dg_cuda_destroy(dg_cuda *g) {
  if (!g) return;
  for (int k = 0; k < 3; k++) free(g->held[k]);
  for (int s = 0; s < 16; s++)
    for (int k = 0; k < 3; k++) free(g->gathered[s][k]);
  dg_destroy(g->host);
  dg_destroy(g->device);
  free(g);
}

int dg_cuda_create(const dg_config *config, uint32_t seed, dg_cuda **out) {
  int rc;
  *out = NULL;
  if ((rc = dg_cuda_available())) return rc;
  dg_cuda *g = calloc(1, sizeof(dg_cuda));
  if (!g) return dg_fail(DG_ERR_ALLOC, "out of memory");
  dg_config host_config = *config;
  host_config.threads = 1; /* as dg_cuda_create: the host model only names and stores state */
  if ((rc = dg_create(&host_config, seed, &g->host)) || (rc = dg_create(config, seed, &g->device))) {
    dg_cuda_destroy(g);
    return rc;
  }
  *out = g;
  return DG_OK;
}

int dg_cuda_train_step(dg_cuda *g, const dg_batch *batches, int n_batches, dg_losses *out) { return dg_train_step(g->device, batches, n_batches, out); }

static void widths_of(dg_cuda *g, size_t w[3]) {
  dg_dims d;
  dg_get_dims(g->device, &d);
  w[0] = d.attribute, w[1] = d.additional, w[2] = (size_t)d.T * d.feature;
}

int dg_cuda_hold_training_data(dg_cuda *g, const dg_batch *all) {
  size_t w[3];
  widths_of(g, w);
  const float *from[3] = {all->attributes, all->additional, all->features};
  for (int k = 0; k < 3; k++) {
    free(g->held[k]);
    g->held[k] = malloc(sizeof(float) * all->size * (w[k] ? w[k] : 1));
    if (!g->held[k]) return dg_fail(DG_ERR_ALLOC, "out of memory");
    if (w[k]) memcpy(g->held[k], from[k], sizeof(float) * all->size * w[k]);
  }
  g->held_n = all->size;
  return DG_OK;
}

int dg_cuda_train_step_rows(dg_cuda *g, const int32_t *const *rows, int n_steps, int B, dg_losses *out) {
  if (!g->held_n) return dg_fail(DG_ERR_ARG, "no training set is held on the GPU (dg_cuda_hold_training_data)");
  if (n_steps > 16) return dg_fail(DG_ERR_ARG, "at most 16 critic steps");
  size_t w[3];
  widths_of(g, w);
  dg_batch batches[16];
  for (int s = 0; s < n_steps; s++) {
    for (int b = 0; b < B; b++)
      if (rows[s][b] < 0 || rows[s][b] >= g->held_n)
        return dg_fail(DG_ERR_ARG, "critic step %d, batch row %d: row %d is outside the held training set (0..%d)", s, b, (int)rows[s][b], g->held_n - 1);
    for (int k = 0; k < 3; k++) {
      free(g->gathered[s][k]);
      g->gathered[s][k] = malloc(sizeof(float) * B * (w[k] ? w[k] : 1));
      if (!g->gathered[s][k]) return dg_fail(DG_ERR_ALLOC, "out of memory");
      for (int b = 0; b < B; b++) memcpy(g->gathered[s][k] + b * w[k], g->held[k] + rows[s][b] * w[k], sizeof(float) * w[k]);
    }
    /* the row numbers are the series' training-set ids, as in dg_cuda.cu */
    batches[s] = (dg_batch){.size = B, .attributes = g->gathered[s][0], .additional = g->gathered[s][1], .features = g->gathered[s][2], .ids = rows[s]};
  }
  return dg_train_step(g->device, batches, n_steps, out);
}

int dg_cuda_generate(dg_cuda *g, int n, const float *given_attributes, const float *given_additional, float *attributes, float *additional, float *features,
                     int32_t *lengths) {
  return dg_generate(g->device, n, given_attributes, given_additional, attributes, additional, features, lengths);
}

void dg_cuda_use_graphs(dg_cuda *g, int on) {}
dg_model *dg_cuda_host_model(dg_cuda *g) { return g->host; }
int dg_cuda_download(dg_cuda *g) { return dg_copy_state(g->host, g->device); }
int dg_cuda_upload(dg_cuda *g) { return dg_copy_state(g->device, g->host); }
