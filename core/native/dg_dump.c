/* Reader and writer for the tensor dump format (dg_dump.h, README.md). */
#include "dg_dump.h"

#include "dg_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DUMP_VERSION 1u
#define MAX_NAME 4096u

static int read_u32(FILE *f, uint32_t *v) {
  unsigned char b[4];
  if (fread(b, 1, 4, f) != 4) return 0;
  *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
  return 1;
}

static int write_u32(FILE *f, uint32_t v) {
  unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16), (unsigned char)(v >> 24)};
  return fwrite(b, 1, 4, f) == 4;
}

void dg_dump_free(dg_dump *d) {
  if (!d) return;
  for (int i = 0; i < d->count; i++) {
    free(d->tensors[i].name);
    free(d->tensors[i].data);
  }
  free(d->tensors);
  d->tensors = NULL;
  d->count = 0;
}

int dg_dump_read(const char *path, dg_dump *out) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return dg_fail(DG_ERR_IO, "cannot open %s", path);
  char magic[4];
  uint32_t version, count;
  int rc = DG_OK;
  if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "DGTD", 4) != 0) {
    rc = dg_fail(DG_ERR_IO, "%s is not a tensor dump (bad magic)", path);
    goto done;
  }
  if (!read_u32(f, &version) || version != DUMP_VERSION || !read_u32(f, &count)) {
    rc = dg_fail(DG_ERR_IO, "%s: unsupported dump version or truncated header", path);
    goto done;
  }
  out->tensors = calloc(count ? count : 1, sizeof(dg_dump_tensor));
  if (!out->tensors) {
    rc = dg_fail(DG_ERR_ALLOC, "out of memory reading %s", path);
    goto done;
  }
  for (uint32_t i = 0; i < count; i++) {
    dg_dump_tensor *t = &out->tensors[i];
    out->count = (int)i + 1;
    uint32_t len, ndim;
    if (!read_u32(f, &len) || len == 0 || len > MAX_NAME) {
      rc = dg_fail(DG_ERR_IO, "%s: tensor %u has a bad name length", path, i);
      goto done;
    }
    t->name = calloc(len + 1, 1);
    if (!t->name || fread(t->name, 1, len, f) != len) {
      rc = dg_fail(DG_ERR_IO, "%s: tensor %u: truncated name", path, i);
      goto done;
    }
    if (!read_u32(f, &ndim) || ndim > DG_DUMP_MAX_DIMS) {
      rc = dg_fail(DG_ERR_IO, "%s: tensor '%s' has a bad rank", path, t->name);
      goto done;
    }
    t->ndim = (int)ndim;
    size_t size = 1;
    for (uint32_t k = 0; k < ndim; k++) {
      uint32_t dim;
      if (!read_u32(f, &dim) || dim > (1u << 30)) {
        rc = dg_fail(DG_ERR_IO, "%s: tensor '%s' has a bad shape", path, t->name);
        goto done;
      }
      t->dims[k] = (int)dim;
      size *= dim;
    }
    t->size = size;
    t->data = malloc(sizeof(float) * (size ? size : 1));
    if (!t->data) {
      rc = dg_fail(DG_ERR_ALLOC, "out of memory reading '%s' from %s", t->name, path);
      goto done;
    }
    /* float32 little-endian: read as is on little-endian hosts (x86, ARM) */
    if (fread(t->data, sizeof(float), size, f) != size) {
      rc = dg_fail(DG_ERR_IO, "%s: tensor '%s' is truncated", path, t->name);
      goto done;
    }
  }
  out->count = (int)count;
done:
  fclose(f);
  if (rc) dg_dump_free(out);
  return rc;
}

int dg_dump_write(const char *path, const dg_dump_tensor *tensors, int count) {
  FILE *f = fopen(path, "wb");
  if (!f) return dg_fail(DG_ERR_IO, "cannot create %s", path);
  int ok = fwrite("DGTD", 1, 4, f) == 4 && write_u32(f, DUMP_VERSION) && write_u32(f, (uint32_t)count);
  for (int i = 0; ok && i < count; i++) {
    const dg_dump_tensor *t = &tensors[i];
    uint32_t len = (uint32_t)strlen(t->name);
    size_t size = 1;
    ok = write_u32(f, len) && fwrite(t->name, 1, len, f) == len && write_u32(f, (uint32_t)t->ndim);
    for (int k = 0; ok && k < t->ndim; k++) {
      ok = write_u32(f, (uint32_t)t->dims[k]);
      size *= (size_t)t->dims[k];
    }
    if (ok && size) ok = fwrite(t->data, sizeof(float), size, f) == size;
  }
  if (fclose(f) != 0) ok = 0;
  return ok ? DG_OK : dg_fail(DG_ERR_IO, "writing %s failed", path);
}

const dg_dump_tensor *dg_dump_find(const dg_dump *d, const char *name) {
  for (int i = 0; i < d->count; i++)
    if (strcmp(d->tensors[i].name, name) == 0) return &d->tensors[i];
  return NULL;
}
