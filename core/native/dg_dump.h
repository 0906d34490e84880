/*
 * Tensor dump files: named float32 tensors in one flat binary file, so an engine can dump one training
 * iteration and another can compare against it tensor by tensor. Format (all integers little-endian
 * uint32), described in README.md:
 *   "DGTD" | version (1) | count | count x { name length | name bytes (UTF-8, no NUL) | ndim | dims[ndim] |
 *   float32 data[product of dims] }
 */
#ifndef DG_DUMP_H
#define DG_DUMP_H

#include <stddef.h>
#include <stdint.h>

#define DG_DUMP_MAX_DIMS 8

typedef struct {
  char *name;
  int ndim;
  int dims[DG_DUMP_MAX_DIMS];
  size_t size;
  float *data;
} dg_dump_tensor;

typedef struct {
  int count;
  dg_dump_tensor *tensors;
} dg_dump;

/* Reads the whole file; on failure returns DG_ERR_IO with dg_error_message() saying why. */
int dg_dump_read(const char *path, dg_dump *out);
int dg_dump_write(const char *path, const dg_dump_tensor *tensors, int count);
const dg_dump_tensor *dg_dump_find(const dg_dump *dump, const char *name);
void dg_dump_free(dg_dump *dump);

#endif

/* ---- One training iteration as a dump (README.md, "Dump contents") ---- */
#include "dg.h"

/* Writes config, seed, the model's current state ("init/"), the batches, the first critic step's fake
 * batch and gradients, then runs dg_train_step and writes losses, generator gradients and the state
 * after it ("final/"). The model ends one iteration further on. */
int dg_dump_iteration(dg_model *model, const dg_config *config, uint32_t seed, const dg_batch *batches, int n_batches, const char *path);

/* Rebuilds the model a dump describes (config/ and seed; init/ state when present) and reruns its
 * iteration, comparing every tensor the dump has: max |ours - theirs| / max |theirs| must stay below
 * tolerance. Prints one line per tensor when verbose. Returns the number of mismatches (or -1 when the
 * dump cannot be used, with dg_error_message() saying why). */
int dg_compare_dump(const char *path, double tolerance, int verbose);

/* The same with the iteration run by `run` (another engine: test_dg_cuda runs it on the GPU): it gets
 * the CPU model m with the dump's initial state and must leave the final state, counters and gradients
 * in m. The first critic step's intermediates (fake batch, interpolation weights) are then not
 * compared, and its gradients and losses only with one critic step (they are then the iteration's). */
typedef int (*dg_iteration_fn)(void *ctx, dg_model *m, const dg_config *config, uint32_t seed, const dg_batch *batches, int n_batches, dg_losses *out);
int dg_compare_dump_with(const char *path, double tolerance, int verbose, dg_iteration_fn run, void *ctx);
