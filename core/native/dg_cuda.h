/*
 * dg_cuda: the DoppelGANger training core on one NVIDIA GPU. Same math, parameter layout, noise
 * stream and API shape as the CPU core (dg.h), which it uses for the tensor table, initialization and
 * state access: the state lives on the device and is copied to/from the host model explicitly.
 *
 * GEMMs go to cuBLAS, loaded at run time with dlopen("libcublas.so.13") (no cuBLAS headers or link-time
 * dependency); the LSTM recurrence runs as one persistent kernel per pass (batch rows split across
 * blocks, all steps inside), elementwise work is fused into a few kernels per layer, noise is drawn on
 * the device from the same Philox stream, and a whole iteration can be captured once as a CUDA graph
 * and replayed.
 */
#ifndef DG_CUDA_H
#define DG_CUDA_H

#include "dg.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dg_cuda dg_cuda;

/* DG_OK when a CUDA device and cuBLAS are usable; otherwise an error code with dg_error_message(). */
int dg_cuda_available(void);
/* The current device as "<name>, sm_<major><minor>, <memory> GiB", into out[size]. */
int dg_cuda_device_name(char *out, size_t size);

int dg_cuda_create(const dg_config *config, uint32_t seed, dg_cuda **out);
void dg_cuda_destroy(dg_cuda *g);

/* Same contract as dg_train_step. */
int dg_cuda_train_step(dg_cuda *g, const dg_batch *batches, int n_batches, dg_losses *out);
/* The training set kept on the device (copied now): all->size series in dg_batch layout. Replaces one
 * held before; DG_ERR_ALLOC (nothing held) when the device lacks the memory. */
int dg_cuda_hold_training_data(dg_cuda *g, const dg_batch *all);
/* dg_cuda_train_step on rows of the held training set: rows[s] holds the B row numbers of critic step
 * s's batch, gathered on the device (no batch crosses the bus). The row numbers are also the series'
 * ids (dg_batch.ids) for DP-SGD on Poisson-sampled batches. */
int dg_cuda_train_step_rows(dg_cuda *g, const int32_t *const *rows, int n_steps, int B, dg_losses *out);
/* Same contract as dg_generate. */
int dg_cuda_generate(dg_cuda *g, int n, const float *given_attributes, const float *given_additional, float *attributes, float *additional,
                     float *features, int32_t *lengths);

/* Replay each iteration from a CUDA graph captured on first use (on by default); off runs eagerly. */
void dg_cuda_use_graphs(dg_cuda *g, int on);

/* The host model that names the state. download: device -> host (parameters, buffers, Adam slots,
 * counters, and the last gradients); upload: host -> device (after dg_tensor_data writes). */
dg_model *dg_cuda_host_model(dg_cuda *g);
int dg_cuda_download(dg_cuda *g);
int dg_cuda_upload(dg_cuda *g);

#ifdef __cplusplus
}
#endif
#endif
