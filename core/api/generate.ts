/**
 * Generation into a file: a run's series written a part at a time (memory stays flat for any number),
 * optionally one series per given attribute row; a cancelled or failed export leaves no file behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { readAttributeRows } from '../data/attribute-rows.ts';
import type { Dataset } from '../data/types.ts';
import type { EncoderState } from '../encoding/encoder.ts';
import { formatOf, writeDatasetParts, type ExportLayout, type ExportResult } from '../export/index.ts';
import type { EngineKind } from '../model/engines.ts';
import { generatePartsFromRun, openGenerationSource } from '../train/run-folder.ts';
import { removeStaleTemporaries, temporaryPath } from '../util/atomic-file.ts';
import { ApiError } from '../util/errors.ts';

export interface GenerateFileRequest {
  /** A run folder, or a model file written by dg export-model. */
  runDir: string;
  /** How many series; with `givenAttributesFile`, one per row of that file instead. */
  n?: number;
  /** A CSV/Parquet/Arrow file of attribute rows (the run's attribute columns). */
  givenAttributesFile?: string;
  seed?: number;
  engine?: EngineKind;
  layout?: ExportLayout;
  out: string;
}

export interface GenerateFileHooks {
  onLog?: (message: string) => void;
  /** Series generated so far, after each part. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface GenerateFileResult extends ExportResult {
  series: number;
  seconds: number;
}

/**
 * Bytes a written cell takes, roughly: CSV numbers with their delimiter (~10), Arrow's 8-byte floats plus
 * offsets, Parquet after encoding and compression (a low guess, so that a file that would fit is not refused).
 */
const BYTES_PER_CELL = { csv: 10, arrow: 9, parquet: 3 } as const;

/**
 * The size of a generated file from the run's layout, before any work: every series at the longest
 * length (without generation flags they all are), long files with id, time, attributes and features per
 * step, wide ones with a column per step of each feature.
 */
export function estimateOutputBytes(encoder: Pick<EncoderState, 'attributes' | 'features' | 'maxLength'>, n: number, out: string, layout?: ExportLayout): number {
  const steps = encoder.maxLength;
  const attributes = encoder.attributes.length;
  const features = encoder.features.length;
  const cells = layout === 'wide' ? n * (1 + attributes + features * steps) : n * steps * (2 + attributes + features);
  return cells * BYTES_PER_CELL[formatOf(out)];
}

/** Free bytes for an unprivileged writer on the disk holding `dir` (Infinity where it cannot be told). */
export function freeBytes(dir: string): number {
  try {
    const stats = fs.statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let k = 0;
  let x = bytes;
  while (x >= 1000 && k < units.length - 1) {
    x /= 1000;
    k++;
  }
  return k === 0 ? `${Math.round(x)} bytes` : `${x < 10 ? x.toFixed(1) : Math.round(x)} ${units[k]}`;
}

const formatSeconds = (s: number) => (s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

function tooBig(n: number, estimate: number, free: number, dir: string, basis: string): ApiError {
  const fits = Math.max(0, Math.floor((n * free) / estimate));
  return new ApiError('invalid_argument', `${n.toLocaleString('en-US')} series would write about ${formatBytes(estimate)} (${basis}), but ${dir} has ${formatBytes(free)} free`, {
    hint: { text: `generate fewer series (about ${fits.toLocaleString('en-US')} fit), or write to a disk with more room`, option: 'n', value: fits },
  });
}

/**
 * The parts as they are written, checked after the first one: the file's real size per series and the
 * time per series projected to all `n` (the estimate logged; the generation stopped when it will not fit).
 */
async function* measured(parts: AsyncIterable<Dataset>, n: number, out: string, hooks: GenerateFileHooks): AsyncGenerator<Dataset> {
  const started = performance.now();
  let done = 0;
  let first = true;
  for await (const part of parts) {
    yield part; // resumed once the part is written
    done += part.series.length;
    if (!first || done >= n) continue;
    first = false;
    const seconds = ((performance.now() - started) / 1000) * (n / done);
    let written = 0;
    try {
      written = fs.statSync(temporaryPath(path.resolve(out))).size;
    } catch {
      // the writer keeps its file elsewhere, or has not flushed yet: no measure
    }
    const projected = (written / done) * n;
    hooks.onLog?.(`${n.toLocaleString('en-US')} series: about ${formatSeconds(seconds)}${written > 0 ? ` and ${formatBytes(projected)}` : ''} (from the first ${done.toLocaleString('en-US')})`);
    const dir = path.dirname(path.resolve(out));
    const free = freeBytes(dir) + written;
    if (written > 0 && projected > free) throw tooBig(n, projected, free, dir, `measured on the first ${done.toLocaleString('en-US')} series`);
  }
}

export async function generateToFile(request: GenerateFileRequest, hooks: GenerateFileHooks = {}): Promise<GenerateFileResult> {
  const started = performance.now();
  const source = openGenerationSource(request.runDir);
  // a generation killed before it finished left its temporary file: it is of no use to anyone
  const stale = removeStaleTemporaries(path.dirname(path.resolve(request.out)), path.basename(request.out));
  if (stale.length) hooks.onLog?.(`removed ${stale.join(', ')}, left by a generation that did not finish`);
  const given = request.givenAttributesFile ? await readAttributeRows(request.givenAttributesFile, source.encoder.attributes) : undefined;
  const n = given ? given.length : request.n;
  if (n === undefined) throw new ApiError('invalid_argument', 'say how many series to generate, or give a file of attribute rows', { hint: { text: 'how many series', option: 'n', value: 1000 } });
  // Before any work: the file's size from the layout, against the free space of its disk.
  const outDir = path.dirname(path.resolve(request.out));
  const estimate = estimateOutputBytes(source.encoder, n, request.out, request.layout);
  const free = freeBytes(outDir);
  if (estimate > free) throw tooBig(n, estimate, free, outDir, `${source.encoder.maxLength} steps per series`);
  const parts = generatePartsFromRun(
    {
      runDir: request.runDir,
      n,
      seed: request.seed,
      givenAttributes: given,
      engine: request.engine,
      onLog: hooks.onLog,
      signal: hooks.signal,
      onProgress: hooks.onProgress,
    },
    source,
  );
  try {
    // Wide files get a column per step of the longest real series, whatever the parts' own lengths.
    const written = await writeDatasetParts(measured(parts, n, request.out, hooks), request.out, { layout: request.layout, seriesLength: source.encoder.maxLength });
    return { ...written, series: n, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    if (hooks.signal?.aborted) throw new ApiError('cancelled', `generation cancelled: nothing was written to ${request.out}`);
    throw error;
  }
}
