/**
 * Generation into a file: a run's series written a part at a time (memory stays flat for any number),
 * optionally one series per given attribute row; a cancelled or failed export leaves no file behind.
 */
import path from 'node:path';
import { readAttributeRows } from '../data/attribute-rows.ts';
import { writeDatasetParts, type ExportLayout, type ExportResult } from '../export/index.ts';
import type { EngineKind } from '../model/engines.ts';
import { generatePartsFromRun, readRun } from '../train/run-folder.ts';
import { removeStaleTemporaries } from '../util/atomic-file.ts';
import { ApiError } from '../util/errors.ts';

export interface GenerateFileRequest {
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

export async function generateToFile(request: GenerateFileRequest, hooks: GenerateFileHooks = {}): Promise<GenerateFileResult> {
  const started = performance.now();
  const { checkpoint } = readRun(request.runDir);
  // a generation killed before it finished left its temporary file: it is of no use to anyone
  const stale = removeStaleTemporaries(path.dirname(path.resolve(request.out)), path.basename(request.out));
  if (stale.length) hooks.onLog?.(`removed ${stale.join(', ')}, left by a generation that did not finish`);
  const given = request.givenAttributesFile ? await readAttributeRows(request.givenAttributesFile, checkpoint.encoder.attributes) : undefined;
  const n = given ? given.length : request.n;
  if (n === undefined) throw new ApiError('invalid_argument', 'say how many series to generate, or give a file of attribute rows', { hint: { text: 'how many series', option: 'n', value: 1000 } });
  const parts = generatePartsFromRun({
    runDir: request.runDir,
    n,
    seed: request.seed,
    givenAttributes: given,
    engine: request.engine,
    onLog: hooks.onLog,
    signal: hooks.signal,
    onProgress: hooks.onProgress,
  });
  try {
    // Wide files get a column per step of the longest real series, whatever the parts' own lengths.
    const written = await writeDatasetParts(parts, request.out, { layout: request.layout, seriesLength: checkpoint.encoder.maxLength });
    return { ...written, series: n, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    if (hooks.signal?.aborted) throw new ApiError('cancelled', `generation cancelled: nothing was written to ${request.out}`);
    throw error;
  }
}
