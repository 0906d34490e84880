/*
 * The binding's backend tables (backend.h): the CPU core linked into the addon, and the CUDA plugin
 * loaded with dlopen from the path JavaScript gives.
 */
#include "backend.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const dg_backend dg_cpu_backend = {
    .kind = "cpu",
    .error_message = dg_error_message,
    .get_dims = dg_get_dims,
    .tensor_count = dg_tensor_count,
    .tensor_info_at = dg_tensor_info_at,
    .tensor_find = dg_tensor_find,
    .tensor_data = dg_tensor_data,
    .get_counters = dg_get_counters,
    .set_counters = dg_set_counters,
    .critic_scores = dg_critic_scores,
    .thread_count = dg_thread_count,
    .create = dg_create,
    .destroy = dg_destroy,
    .train_step = dg_train_step,
    .generate = dg_generate,
};

/* Loaded plugins, newest first; never freed (see backend.h). */
typedef struct plugin {
  struct plugin *next;
  char *path;
  dg_backend table;
} plugin;

static plugin *plugins;
/* Worker threads (node:worker_threads) each load the addon: they share this list. */
static pthread_mutex_t plugins_lock = PTHREAD_MUTEX_INITIALIZER;

/* dlerror() for a file that cannot be opened starts with the path; drop it, the caller names it. */
static const char *without_path(const char *message, const char *path) {
  size_t n = strlen(path);
  if (strncmp(message, path, n) == 0 && message[n] == ':' && message[n + 1] == ' ') return message + n + 2;
  return message;
}

/* Resolves every function of the table; the name of the first one missing, or NULL. */
static const char *resolve(void *lib, dg_backend *t) {
  struct {
    const char *name;
    void **slot;
  } symbols[] = {
      {"dg_error_message", (void **)&t->error_message},
      {"dg_get_dims", (void **)&t->get_dims},
      {"dg_tensor_count", (void **)&t->tensor_count},
      {"dg_tensor_info_at", (void **)&t->tensor_info_at},
      {"dg_tensor_find", (void **)&t->tensor_find},
      {"dg_tensor_data", (void **)&t->tensor_data},
      {"dg_get_counters", (void **)&t->get_counters},
      {"dg_set_counters", (void **)&t->set_counters},
      {"dg_critic_scores", (void **)&t->critic_scores},
      {"dg_thread_count", (void **)&t->thread_count},
      {"dg_cuda_available", (void **)&t->cuda_available},
      {"dg_cuda_device_name", (void **)&t->cuda_device_name},
      {"dg_cuda_create", (void **)&t->cuda_create},
      {"dg_cuda_destroy", (void **)&t->cuda_destroy},
      {"dg_cuda_train_step", (void **)&t->cuda_train_step},
      {"dg_cuda_hold_training_data", (void **)&t->cuda_hold_training_data},
      {"dg_cuda_train_step_rows", (void **)&t->cuda_train_step_rows},
      {"dg_cuda_generate", (void **)&t->cuda_generate},
      {"dg_cuda_host_model", (void **)&t->cuda_host_model},
      {"dg_cuda_download", (void **)&t->cuda_download},
      {"dg_cuda_upload", (void **)&t->cuda_upload},
  };
  for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
    /* POSIX guarantees a data pointer from dlsym converts to a function pointer of the right type. */
    *symbols[i].slot = dlsym(lib, symbols[i].name);
    if (!*symbols[i].slot) return symbols[i].name;
  }
  return NULL;
}

static const dg_backend *load_locked(const char *path, char *err, size_t err_size) {
  for (plugin *p = plugins; p; p = p->next)
    if (strcmp(p->path, path) == 0) return &p->table;
  /* RTLD_LOCAL: the plugin's copy of the CPU core stays out of the global namespace, so it and the
   * addon's copy never see each other's symbols. */
  void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char *why = dlerror();
    snprintf(err, err_size, "cannot load the CUDA plugin %s: %s", path, why ? without_path(why, path) : "unknown error");
    return NULL;
  }
  /* On failure below the library stays loaded: its static initializers (the CUDA runtime's) have run,
   * and unloading the CUDA runtime is not safe. */
  plugin *p = calloc(1, sizeof(plugin));
  char *copy = strdup(path);
  if (!p || !copy) {
    free(p);
    free(copy);
    snprintf(err, err_size, "out of memory loading the CUDA plugin %s", path);
    return NULL;
  }
  p->table.kind = "cuda";
  const char *missing = resolve(lib, &p->table);
  if (missing) {
    snprintf(err, err_size, "the CUDA plugin %s lacks %s (built from other sources? rebuild it: make -C core/native cuda-lib)", path, missing);
    free(p);
    free(copy);
    return NULL;
  }
  p->path = copy;
  p->next = plugins;
  plugins = p;
  return &p->table;
}

const dg_backend *dg_cuda_plugin_load(const char *path, char *err, size_t err_size) {
  if (!path || !strchr(path, '/')) {
    snprintf(err, err_size, "the CUDA plugin path must name a file (got '%s')", path ? path : "");
    return NULL;
  }
  pthread_mutex_lock(&plugins_lock);
  const dg_backend *table = load_locked(path, err, err_size);
  pthread_mutex_unlock(&plugins_lock);
  return table;
}
