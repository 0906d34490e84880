/*
 * The functions the Node binding calls on a model, as a table: one for the CPU core linked into the
 * addon, one per CUDA plugin (out/libdg_cuda.so, built only where nvcc exists) loaded at run time.
 * The addon never links CUDA: it builds and runs without it, and a missing plugin, driver or device is
 * an answer ("unavailable because ..."), not a load failure.
 *
 * The plugin carries its own copy of the CPU core for the host model that names and stores a CUDA
 * model's state. That model and the plugin's error message (thread-local, like the core's) belong to
 * the plugin's copy, so a CUDA handle reads them only through its own table's functions.
 */
#ifndef DG_BACKEND_H
#define DG_BACKEND_H

#include "dg.h"
#include "dg_cuda.h"

typedef struct {
  const char *kind; /* "cpu" or "cuda" */

  /* The CPU core: the addon's own, or the plugin's copy for its host models. */
  const char *(*error_message)(void);
  int (*get_dims)(const dg_model *, dg_dims *);
  int (*tensor_count)(const dg_model *);
  int (*tensor_info_at)(const dg_model *, int, dg_tensor_info *);
  int (*tensor_find)(const dg_model *, const char *);
  float *(*tensor_data)(dg_model *, int);
  int (*get_counters)(const dg_model *, dg_counters *);
  int (*set_counters)(dg_model *, const dg_counters *);
  int (*critic_scores)(dg_model *, const dg_batch *, float *);
  int (*thread_count)(const dg_model *);

  /* Training on the CPU (NULL in a CUDA table). */
  int (*create)(const dg_config *, uint32_t, dg_model **);
  void (*destroy)(dg_model *);
  int (*train_step)(dg_model *, const dg_batch *, int, dg_losses *);
  int (*generate)(dg_model *, int, const float *, const float *, float *, float *, float *, int32_t *);

  /* Training on the GPU (NULL in the CPU table). */
  int (*cuda_available)(void);
  int (*cuda_device_name)(char *, size_t);
  int (*cuda_create)(const dg_config *, uint32_t, dg_cuda **);
  void (*cuda_destroy)(dg_cuda *);
  int (*cuda_train_step)(dg_cuda *, const dg_batch *, int, dg_losses *);
  int (*cuda_hold_training_data)(dg_cuda *, const dg_batch *);
  int (*cuda_train_step_rows)(dg_cuda *, const int32_t *const *, int, int, dg_losses *);
  int (*cuda_generate)(dg_cuda *, int, const float *, const float *, float *, float *, float *, int32_t *);
  dg_model *(*cuda_host_model)(dg_cuda *);
  int (*cuda_download)(dg_cuda *);
  int (*cuda_upload)(dg_cuda *);
} dg_backend;

extern const dg_backend dg_cpu_backend;

/* The CUDA plugin at `path` (a file path: the system library path is never searched), loaded with
 * dlopen(RTLD_NOW | RTLD_LOCAL) on first use and kept for the life of the process (models may still
 * use it; unloading the CUDA runtime is not safe anyway). NULL with the reason in err when it cannot
 * be loaded or lacks a function. */
const dg_backend *dg_cuda_plugin_load(const char *path, char *err, size_t err_size);

#endif
