/**
 * The contract: every call the app, the CLI and scripts can make, with its arguments as runtime
 * schemas (zod), shared by every transport (in-process, Electron IPC, browser mode's HTTP). Bad input is
 * an `invalid_argument` error naming the field, never a crash. Results are typed by the service.
 */
import { z } from 'zod';
import { validateSchema } from '../data/schema-file.ts';
import type { Schema } from '../data/types.ts';
import { paperDefaults } from '../model/config.ts';
import { engineKinds, type EngineKind } from '../model/engines.ts';

const id = z.string().min(1).max(200);
const positiveInt = z.number().int().min(1);
const name = z.string().trim().min(1).max(200);
/** A file path on the machine running the service (transports confine which ones a caller may use). */
const filePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => !p.includes('\0'), 'a path cannot hold NUL bytes');

/** A schema as written by `dg inspect --write-schema` or the schema-mapping screen, checked field by field. */
export const schemaInput = z.unknown().transform((value, ctx): Schema => {
  try {
    return validateSchema(value, 'schema');
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

/** How to read a file (core/data/options.ts): what is left out is inferred. */
export const readOptions = z
  .object({
    schema: schemaInput.optional(),
    idColumn: z.string().min(1).optional(),
    timeColumn: z.string().min(1).optional(),
    chunkSize: positiveInt.optional(),
    attributes: z.array(z.string().min(1)).optional(),
    features: z.array(z.string().min(1)).optional(),
    categorical: z.array(z.string().min(1)).optional(),
    continuous: z.array(z.string().min(1)).optional(),
    maxLength: positiveInt.optional(),
    longSeries: z.enum(['split', 'truncate']).optional(),
    missing: z.enum(['interpolate', 'drop']).optional(),
    delimiter: z.string().min(1).max(4).optional(),
    encoding: z.enum(['utf-8', 'latin-1']).optional(),
  })
  .strict()
  .refine((o) => !(o.idColumn !== undefined && o.chunkSize !== undefined), { message: 'give either an id column or a chunk size (fixed-size series), not both', path: ['chunkSize'] });

const modelKeys = Object.keys(paperDefaults).filter((k) => k !== 'sampleLen') as [string, ...string[]];

/** Model settings by name (core/model/config.ts): numbers, or layer widths for the hidden-layer lists (any subset: zod 4's record over an enum would demand every key). */
export const modelOverrides = z.partialRecord(z.enum(modelKeys), z.union([z.number().finite(), z.array(positiveInt).max(16)])).superRefine((overrides, ctx) => {
  for (const [key, value] of Object.entries(overrides)) {
    const current = (paperDefaults as Record<string, unknown>)[key];
    if (Array.isArray(current) !== Array.isArray(value)) {
      ctx.addIssue({ code: 'custom', path: [key], message: Array.isArray(current) ? `${key} takes layer widths, like [200, 200]` : `${key} takes a number` });
    }
  }
});

/** DP-SGD: a target epsilon (the noise is solved for it) or a noise multiplier. */
export const dpSettings = z
  .object({
    epsilon: z.number().positive().finite().optional(),
    noiseMultiplier: z.number().positive().finite().optional(),
    delta: z.number().positive().lt(1).optional(),
    clipNorm: z.number().positive().finite().optional(),
  })
  .strict()
  .refine((d) => (d.epsilon === undefined) !== (d.noiseMultiplier === undefined), { message: 'give a target epsilon or a noise multiplier (exactly one)', path: ['epsilon'] });

const attributeName = z.string().min(1).max(200);

/**
 * Hiding one attribute (core/privacy/hiding.ts): drop it, merge its categories held by fewer than
 * minSeries series, or replace its distribution after training by uniform or a table of frequencies
 * (category -> count or share). Checks against the data's columns happen when the run is planned.
 */
export const hideSpec = z.discriminatedUnion('mode', [
  z.object({ attribute: attributeName, mode: z.literal('drop') }).strict(),
  z.object({ attribute: attributeName, mode: z.literal('coarsen'), minSeries: z.number().int().min(2).max(1_000_000_000) }).strict(),
  z
    .object({
      attribute: attributeName,
      mode: z.literal('replace'),
      target: z.union([z.literal('uniform'), z.record(z.string().min(1), z.number().finite().min(0, 'frequencies are counts or shares >= 0'))]),
    })
    .strict()
    .refine((s) => s.target === 'uniform' || Object.values(s.target).reduce((a, b) => a + b, 0) > 0, { message: 'the frequencies must sum to more than 0', path: ['target'] }),
]);

export const hideSettings = z
  .array(hideSpec)
  .max(200)
  .superRefine((specs, ctx) => {
    const seen = new Set<string>();
    specs.forEach((s, i) => {
      if (seen.has(s.attribute)) ctx.addIssue({ code: 'custom', path: [i, 'attribute'], message: `'${s.attribute}' is hidden twice: give one of drop, coarsen or replace per attribute` });
      seen.add(s.attribute);
    });
    if (specs.filter((s) => s.mode === 'replace').length > 1) ctx.addIssue({ code: 'custom', path: [], message: "one attribute's distribution can be replaced per run" });
  });

/** What the user asks of a training run; everything left out follows the data (core/train/defaults.ts). */
export const trainSettings = z
  .object({
    preset: z.enum(['quick', 'standard', 'thorough']).optional(),
    sampleLen: positiveInt.optional(),
    autoNormalize: z.boolean().optional(),
    boundCategories: z.boolean().optional(),
    epochs: positiveInt.optional(),
    iterations: positiveInt.optional(),
    batchSize: positiveInt.optional(),
    seed: z
      .number()
      .int()
      .min(0)
      .max(2 ** 31 - 1)
      .optional(),
    engine: z.enum(engineKinds as [EngineKind, ...EngineKind[]]).optional(),
    checkpointEvery: positiveInt.optional(),
    holdoutFraction: z.number().min(0).lt(1).optional(),
    model: modelOverrides.optional(),
    dp: dpSettings.optional(),
    /** Guard against memorization (default on; core/train/privacy-guard.ts); false trains the full schedule. */
    privacyGuard: z.boolean().optional(),
    hide: hideSettings.optional(),
  })
  .strict();

export type TrainSettings = z.infer<typeof trainSettings>;
export type ReadOptionsInput = z.infer<typeof readOptions>;

const exportFormat = z.enum(['csv', 'parquet', 'arrow']);
const exportLayout = z.enum(['long', 'wide']);

/** A method: its arguments, and which of them are file paths it reads or writes (transports check those). */
interface MethodSpec<S extends z.ZodType> {
  input: S;
  reads?: readonly string[];
  writes?: readonly string[];
}
const method = <S extends z.ZodType>(input: S, files: { reads?: readonly string[]; writes?: readonly string[] } = {}): MethodSpec<S> => ({ input, ...files });
const none = z.object({}).strict();

export const methods = {
  'app.info': method(none),
  'files.inspect': method(z.object({ path: filePath, read: readOptions.optional() }).strict(), { reads: ['path'] }),
  'projects.list': method(none),
  'projects.create': method(z.object({ name, description: z.string().max(2000).optional() }).strict()),
  'projects.get': method(z.object({ projectId: id }).strict()),
  'projects.createDemo': method(none),
  'datasets.import': method(z.object({ projectId: id, path: filePath, read: readOptions.optional(), name: name.optional() }).strict(), { reads: ['path'] }),
  'datasets.get': method(z.object({ datasetId: id }).strict()),
  'datasets.preview': method(z.object({ datasetId: id, series: z.number().int().min(0).max(50).optional(), rows: z.number().int().min(0).max(500).optional() }).strict()),
  'schemas.list': method(z.object({ datasetId: id }).strict()),
  'schemas.save': method(z.object({ datasetId: id, schema: schemaInput }).strict()),
  'training.plan': method(z.object({ datasetId: id, settings: trainSettings.default({}), calibrate: z.boolean().optional() }).strict()),
  'runs.start': method(z.object({ datasetId: id, settings: trainSettings.default({}) }).strict()),
  'runs.get': method(z.object({ runId: id }).strict()),
  'runs.progress': method(z.object({ runId: id, after: z.number().int().min(-1).optional() }).strict()),
  'runs.pause': method(z.object({ runId: id }).strict()),
  'runs.cancel': method(z.object({ runId: id }).strict()),
  'runs.resume': method(z.object({ runId: id, iterations: positiveInt.optional() }).strict()),
  'runs.importFolder': method(z.object({ projectId: id, path: filePath }).strict(), { reads: ['path'] }),
  /** The run's model as a shareable .dgm file: into the project's exports (then exports.copyTo), or straight to `path`. */
  'runs.exportModel': method(z.object({ runId: id, path: filePath.optional() }).strict(), { writes: ['path'] }),
  'runs.generate': method(z.object({ runId: id, n: z.number().int().min(1).max(10_000_000), seed: z.number().int().min(0).optional() }).strict()),
  'evaluations.create': method(z.object({ syntheticId: id, seed: z.number().int().min(0).optional() }).strict()),
  'evaluations.get': method(z.object({ evaluationId: id }).strict()),
  'evaluations.charts': method(z.object({ evaluationId: id }).strict()),
  'runs.compare': method(z.object({ projectId: id, runIds: z.array(id).min(1).max(20).optional() }).strict()),
  'exports.create': method(z.object({ syntheticId: id, format: exportFormat, layout: exportLayout.optional() }).strict()),
  'exports.list': method(z.object({ syntheticId: id }).strict()),
  'exports.dossier': method(z.object({ evaluationId: id }).strict()),
  'exports.copyTo': method(z.object({ exportId: id, path: filePath }).strict(), { writes: ['path'] }),
  'audit.list': method(z.object({ projectId: id.optional(), limit: z.number().int().min(1).max(10_000).optional() }).strict()),
  'audit.verify': method(none),
} as const;

export type MethodName = keyof typeof methods;
export type MethodArgs<M extends MethodName> = z.output<(typeof methods)[M]['input']>;
export const methodNames = Object.keys(methods) as MethodName[];

/** Events pushed to every open window. */
export type ApiEventOf =
  | { type: 'run.status'; runId: string; projectId: string; status: string; iteration: number; totalIterations: number; message?: string }
  | {
      type: 'run.progress';
      runId: string;
      iteration: number;
      totalIterations: number;
      epoch: number;
      losses: Record<string, number>;
      examplesPerSecond: number;
      elapsedSeconds: number;
      etaSeconds: number;
      epsilon?: number;
      exposure?: number;
    }
  | { type: 'run.samples'; runId: string; iteration: number; samples: { attributes: (number | string)[]; features: (number | string)[][] }[] }
  | { type: 'run.log'; runId: string; message: string }
  | { type: 'job.progress'; job: string; kind: 'import' | 'generate' | 'evaluate' | 'export'; done: number; total: number; unit: string };
