/**
 * `dg`: the headless face of core/api (inspect, train, resume, generate, evaluate, demo): argument
 * parsing and printing only. Results go to stdout, progress and notes to stderr. Heavy modules load
 * when a command runs, so `dg --help` answers at once.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import type { ReadOptions } from '../data/index.ts';
import type { ApiErrorData, ErrorHint } from '../util/errors.ts';
import { errorData } from '../util/errors.ts';
import { fromRoot } from '../util/root.ts';
import { formatSeconds, progressBar, readingProgress } from './progress.ts';
import type { RunHooks, RunSummary } from '../api/training.ts';
import type { TrainSettings } from '../api/contract.ts';

const USAGE = {
  demo: 'dg demo [--out DIR] [--epochs E] [--seed N] [--engine E]        train briefly on built-in broadband demo data',
  inspect: 'dg inspect FILE [layout options] [--write-schema s.json] [--json]',
  train: 'dg train FILE [layout options] [training options] --out RUN_DIR\n  dg train --resume RUN_DIR [--iterations N] [--engine E]',
  generate: 'dg generate RUN_DIR|MODEL.dgm -n N [--given-attributes FILE] [--seed N] [--layout long|wide] [--engine E] --out FILE.(csv|parquet|arrow)',
  'export-model': 'dg export-model RUN_DIR --out MODEL.dgm                     the shareable model: generator weights and public schema only',
  epsilon: 'dg epsilon --n N --batch B --sigma S|--target-epsilon X --epochs E --delta D [--releases-per-step R]',
  evaluate: 'dg evaluate --real FILE|--run RUN_DIR --synth FILE [--holdout FILE] [layout options] [--target ATTR] [--seed N] [--without-real-series] --out DIR',
  hide: 'dg hide RUN_DIR --replace ATTR=uniform|FILE.csv [--sample-rows N] [--seed N] [--engine E]',
};

const LAYOUT_HELP = `Layout options (how rows become series; inferred when left out):
  --id COL --time COL      long format: one row per time step, series id and time columns
  --chunk N                long format without an id: every N consecutive rows are one series
  --schema s.json          a schema file (from dg inspect --write-schema) overriding inference
  --attributes a,b         columns constant within a series (metadata)
  --features x,y           columns that vary over time
  --categorical a,b        columns whose values are category labels, numbers included (codes)
  --continuous c           columns whose numbers are amounts (an attribute of a few whole numbers is
                           otherwise taken for codes)
  --max-length T           longest series; longer ones are split (default) or truncated: --long-series split|truncate
  --missing interpolate|drop   what to do with missing feature values (default interpolate)
  --delimiter C            CSV delimiter (default: detected)
  --encoding E             CSV text without a byte order mark: utf-8 (default) or latin-1`;

const ENGINE_HELP = `  --engine auto|cuda|native|reference   (default auto: CUDA if a GPU and the CUDA plugin are usable,
                           else the native CPU engine, else the TF.js reference engine; says which)`;

const TRAINING_HELP = `Training options:
  --sample-len S           time steps emitted per LSTM step (default: largest divisor of T up to 10 leaving >= 4 LSTM steps)
  --epochs E               passes over the data (default 400, raised to reach 20,000 iterations on small data
                           unless DP-SGD is on);
                           --iterations N overrides; such small datasets also take 2 critic steps per
                           iteration (the paper: 1; --model criticSteps=N)
  --batch B                batch size (default 100)
  --seed N                 seed of every random draw (default 0)
${ENGINE_HELP}
  --holdout-fraction F     keep a random share of series out of training for evaluation and the privacy
                           review (default with 100+ series: 0.1, at least 20 series; else 0; dg evaluate --run RUN_DIR uses it);
                           with 20 or more held out, training shows its membership exposure (member AUC; 0.5 = none)
  --checkpoint-every N     iterations between checkpoints (default: a tenth of the run)
  --privacy-guard on|off   guard against memorizing the training series (default on): with 20+ held out,
                           stop once the member AUC stays 0.07 above its early level and keep the last
                           checkpoint within it; without, cap a default schedule at 1,000 epochs; not
                           used with DP-SGD. off: the full schedule
  --auto-normalize on|off  per-series min/max normalization (default: on when a feature's per-series
                           ranges differ 100x or more, or its series differ mainly by level, each in a
                           narrow band; the plan says which and why)
  --bound-categories auto|off
                           a category per step for a feature's minimum or maximum where it holds 20% or
                           more of the values, e.g. a loss rate that is mostly 0 (default auto; off keeps
                           that choice data-independent under DP-SGD)
  --dp-epsilon E           train with DP-SGD (differential privacy) spending at most epsilon E over the
                           run: the noise is solved for it (native engines; e.g. 1-10; smaller is more private)
  --dp-noise SIGMA         or give DP-SGD's noise multiplier instead, and see the epsilon it spends
  --dp-delta D             DP's delta (default 1e-5, or 1/(10 N) for N >= 10,000 training series)
  --dp-clip C              bound on each series' gradient norm (default 1)
  --drop-attribute a,b     hide attributes entirely: not learned, not in the synthetic data
  --coarsen a=K[,b=K]      merge the categories of attribute a held by fewer than K series into one
                           label, 'other (merged)', before training
  --hide-distribution a=uniform|FILE.csv
                           release attribute a with a distribution you choose instead of the learned
                           one (uniform, or FILE.csv's rows: category,frequency): once training ends, a
                           table of the attribute generator's own draws resampled to that target replaces
                           it; the feature generator stays as trained (dg hide does it on a trained run)
  --model k=v,k=v          model settings, e.g. generatorLearningRate=1e-4,criticHidden=200x200,auxCriticWeight=1
                           (names and defaults: core/model/config.ts)

Ctrl-C during training writes a checkpoint and stops (exit code 130); \`dg train --resume RUN_DIR\` continues exactly.`;

const HELP = `dg: DoppelGANger synthetic time series, offline

Usage:
  ${Object.values(USAGE).join('\n  ')}
  dg COMMAND --help        one command's options
  dg --version

${LAYOUT_HELP}

${TRAINING_HELP}`;

const MORE = "Run 'dg help' for every command.";

const COMMAND_SUMMARY: Record<string, string> = {
  demo: 'the whole job on built-in data (simulate, train, generate, evaluate) in a few minutes',
  inspect: 'how a data file would be read: the inferred schema and warnings',
  train: 'train DoppelGANger on a data file into a run folder',
  generate: 'write synthetic series from a trained run or an exported model file',
  'export-model': "write a run's model as one file to share: the generator and the public schema, nothing else about the data",
  epsilon: 'the DP-SGD accountant: the epsilon a noise multiplier spends, or the noise a target epsilon needs',
  evaluate: 'judge synthetic data: fidelity metrics, a privacy review and an HTML report',
  hide: "hide an attribute's real distribution in a trained run: uniform or a given table of frequencies",
};

/** One command's help: its usage and its own options only. */
const COMMAND_HELP: Record<string, string> = {
  demo: `Usage:
  ${USAGE.demo}

  --out DIR                where to write (default dg-demo; its run/ folder is replaced)
  --epochs E               passes over the data (default: what fits a few minutes on this machine)
  --seed N                 seed of every random draw (default 0)
${ENGINE_HELP}`,
  inspect: `Usage:
  ${USAGE.inspect}

Prints the inferred schema: each column's kind, role, distinct values, missing values and range.
  --write-schema s.json    write the schema to edit (kinds, roles) and pass to other commands with --schema
  --json                   the whole result as JSON on stdout

${LAYOUT_HELP}`,
  train: `Usage:
  ${USAGE.train}

  --out RUN_DIR            where checkpoints, the model and the encoded data go
  --resume RUN_DIR         continue a stopped or crashed run (--iterations N lengthens it)

${LAYOUT_HELP}

${TRAINING_HELP}`,
  generate: `Usage:
  ${USAGE.generate}

  -n N                     how many series
  --given-attributes FILE  one series per row of this file's attribute columns (instead of -n)
  RUN_DIR | MODEL.dgm      a run folder, or a model file from dg export-model (needs nothing else)
  --seed N                 seed of the noise (default: the run's seed + 1; the same in its model file)
  --layout long|wide       long: one row per time step (default: the input's layout); wide: one row per series
${ENGINE_HELP}
  --out FILE               .csv, .parquet or .arrow; written in parts, atomically

Ctrl-C stops and writes nothing (exit code 130).`,
  'export-model': `Usage:
  ${USAGE['export-model']}

Writes the latest checkpoint's generator weights (no critics, no optimizer state), the model settings and
the schema generation needs into one file; dg generate MODEL.dgm -n N --out FILE generates from it alone.
It holds no series ids, holdout list, training counts, losses or exposure figures; a DP-SGD run's file
carries its (epsilon, delta). Share it and the synthetic data; not the run folder (its checkpoint holds the
critics, run.json the holdout ids, counts and the unnoised exposure).
  --out MODEL.dgm          where to write (atomically)`,
  epsilon: `Usage:
  ${USAGE.epsilon}

DP-SGD's privacy by the accountant training uses (Renyi DP of the sampled Gaussian; TF Privacy's orders):
prints epsilon and the Renyi order that gave it, or with --target-epsilon the noise multiplier needed.
  --n N                    records (training series)
  --batch B                expected batch size (Poisson sampling rate B / N)
  --sigma S                noise multiplier (noise std / clip norm)
  --target-epsilon X       instead of --sigma: print the smallest noise multiplier that spends at most X
  --epochs E               passes over the data: steps = ceil(E * N / B), as TF Privacy's compute_dp_sgd_privacy
  --delta D                DP's delta
  --releases-per-step R    noised releases per step on the same sample (default 1: plain DP-SGD, as in
                           published tables). A DoppelGANger run releases critic steps x 2 per iteration
                           (main and auxiliary critic): its effective noise is sigma / sqrt(R) (core/privacy/dp.ts)`,
  evaluate: `Usage:
  ${USAGE.evaluate}

Writes metrics.json, privacy.json and report.html to --out DIR.
  --real FILE | --run RUN_DIR   the real training data (a run folder brings its holdout and its critic)
  --synth FILE             the synthetic data to judge
  --holdout FILE           real series the model never saw (with --real)
  --target ATTR            the attribute to predict for TSTR (default: the first categorical attribute)
  --seed N                 seed of the evaluation's random draws (default 0)
  --without-real-series    leave the real training series the report plots one by one out of it
                           (for a report to share: by default it warns that it contains them)

${LAYOUT_HELP}`,
  hide: `Usage:
  ${USAGE.hide}

Replaces the run's attribute generator by a released attribute table (released-attributes.json in the
run folder): rows drawn from the trained attribute generator, resampled so that ATTR follows the target
exactly while the other attributes keep their distribution given ATTR. No retraining and no new access to
the data: seconds. dg generate then draws attributes from the table and generates features for them with
the feature generator as trained. Run it again to change the target; delete the file to undo.
  --replace ATTR=uniform   every category of ATTR equally often
  --replace ATTR=FILE.csv  the frequencies in FILE.csv (rows: category,frequency; counts or shares;
                           categories left out get none)
  --sample-rows N          rows drawn from the attribute generator (default 20,000)
  --seed N                 seed of that draw (default: the run's seed + 2)
${ENGINE_HELP}`,
};

/** The installed version, from package.json. */
function version(): string {
  try {
    return (JSON.parse(fs.readFileSync(fromRoot('package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const layoutOptions = {
  id: { type: 'string' },
  time: { type: 'string' },
  chunk: { type: 'string' },
  schema: { type: 'string' },
  attributes: { type: 'string' },
  features: { type: 'string' },
  categorical: { type: 'string' },
  continuous: { type: 'string' },
  'max-length': { type: 'string' },
  'long-series': { type: 'string' },
  missing: { type: 'string' },
  delimiter: { type: 'string' },
  encoding: { type: 'string' },
} as const;

class UsageError extends Error {}

/** The flag of each contract field, for hints and argument errors. */
const FLAGS: Record<string, string> = {
  sampleLen: '--sample-len',
  autoNormalize: '--auto-normalize',
  boundCategories: '--bound-categories',
  epochs: '--epochs',
  iterations: '--iterations',
  batchSize: '--batch',
  seed: '--seed',
  engine: '--engine',
  checkpointEvery: '--checkpoint-every',
  holdoutFraction: '--holdout-fraction',
  privacyGuard: '--privacy-guard',
  model: '--model',
  'dp.epsilon': '--dp-epsilon',
  'dp.noiseMultiplier': '--dp-noise',
  'dp.delta': '--dp-delta',
  'dp.clipNorm': '--dp-clip',
  hide: '--drop-attribute/--coarsen/--hide-distribution',
  sampleRows: '--sample-rows',
  encoding: '--encoding',
  schema: '--schema',
  idColumn: '--id',
  timeColumn: '--time',
  chunkSize: '--chunk',
  attributes: '--attributes',
  features: '--features',
  n: '-n',
  out: '--out',
  records: '--n',
  noiseMultiplier: '--sigma',
  targetEpsilon: '--target-epsilon',
  delta: '--delta',
  releasesPerStep: '--releases-per-step',
};

function integer(value: string | undefined, flag: string, min = 1): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${flag} must be an integer >= ${min}, got '${value}'`);
  return n;
}

/** A number as typed; the contract's schema checks its range. */
function number(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (value.trim() === '' || Number.isNaN(x)) throw new UsageError(`--${flag} must be a number, got '${value}'`);
  return x;
}

function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new UsageError(`--${flag} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T;
}

const ENGINES = ['auto', 'cuda', 'native', 'reference'] as const;

const list = (value: string | undefined) =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const defined = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;

async function readOptionsFrom(values: Record<string, string | boolean | undefined>): Promise<ReadOptions> {
  const s = (k: string) => values[k] as string | undefined;
  const { loadSchemaFile } = await import('../data/schema-file.ts');
  const options = defined({
    schema: s('schema') ? loadSchemaFile(s('schema')!) : undefined,
    idColumn: s('id'),
    timeColumn: s('time'),
    chunkSize: integer(s('chunk'), 'chunk'),
    attributes: list(s('attributes')),
    features: list(s('features')),
    categorical: list(s('categorical')),
    continuous: list(s('continuous')),
    maxLength: integer(s('max-length'), 'max-length'),
    longSeries: oneOf(s('long-series'), 'long-series', ['split', 'truncate'] as const),
    missing: oneOf(s('missing'), 'missing', ['interpolate', 'drop'] as const),
    delimiter: s('delimiter'),
    encoding: oneOf(s('encoding'), 'encoding', ['utf-8', 'latin-1'] as const),
  });
  if (options.chunkSize !== undefined && options.idColumn !== undefined) throw new UsageError('give either --id (series id column) or --chunk (fixed-size series), not both');
  return options;
}

/** `--model k=v,...`: numbers, or widths like 200x200 for the hidden-layer lists (empty for none). */
function parseModelOverrides(text: string): Record<string, number | number[]> {
  const out: Record<string, number | number[]> = {};
  for (const pair of text.split(',').filter(Boolean)) {
    const [key, raw = ''] = pair.split('=');
    if (key === 'sampleLen') throw new UsageError('--model: set the sample length with --sample-len S');
    out[key] = raw === '' || raw.includes('x') ? (raw === '' ? [] : raw.split('x').map(Number)) : Number(raw);
  }
  return out;
}

/** `--dp-*`: DP-SGD when --dp-epsilon or --dp-noise is given; the other two alone are a mistake. */
function dpFrom(values: Record<string, string | boolean | undefined>): TrainSettings['dp'] {
  const s = (k: string) => values[k] as string | undefined;
  const dp = defined({
    epsilon: number(s('dp-epsilon'), 'dp-epsilon'),
    noiseMultiplier: number(s('dp-noise'), 'dp-noise'),
    delta: number(s('dp-delta'), 'dp-delta'),
    clipNorm: number(s('dp-clip'), 'dp-clip'),
  });
  if (dp.epsilon === undefined && dp.noiseMultiplier === undefined) {
    if (dp.delta !== undefined || dp.clipNorm !== undefined) throw new UsageError('--dp-delta and --dp-clip need --dp-epsilon E (or --dp-noise SIGMA) to turn DP-SGD on');
    return undefined;
  }
  if (dp.epsilon !== undefined && dp.noiseMultiplier !== undefined) throw new UsageError('give --dp-epsilon (the noise is solved for it) or --dp-noise, not both');
  return dp;
}

/** `a=v,b=w` pairs of a hiding flag (attribute names may hold '=' only before the last one). */
function pairs(value: string, flag: string): Array<[string, string]> {
  return value
    .split(',')
    .filter((p) => p.trim())
    .map((pair) => {
      const at = pair.lastIndexOf('=');
      if (at <= 0 || at === pair.length - 1) throw new UsageError(`--${flag} takes ATTR=VALUE, got '${pair}'`);
      return [pair.slice(0, at).trim(), pair.slice(at + 1).trim()];
    });
}

/** `ATTR=uniform` or `ATTR=FILE.csv` (a table of category,frequency rows). */
async function replaceSpec(value: string, flag: string): Promise<{ attribute: string; mode: 'replace'; target: 'uniform' | Record<string, number> }> {
  const all = pairs(value, flag);
  if (all.length !== 1) throw new UsageError(`--${flag} takes one ATTR=uniform|FILE.csv (one attribute's distribution per run)`);
  const [attribute, target] = all[0];
  if (target === 'uniform') return { attribute, mode: 'replace', target };
  const { readTargetTable } = await import('../api/hiding.ts');
  return { attribute, mode: 'replace', target: readTargetTable(target) };
}

/** `--drop-attribute`, `--coarsen`, `--hide-distribution`: the contract's `hide` list (undefined when none). */
async function hideFrom(values: Record<string, string | boolean | undefined>): Promise<TrainSettings['hide']> {
  const s = (k: string) => values[k] as string | undefined;
  const specs: NonNullable<TrainSettings['hide']> = [];
  for (const attribute of list(s('drop-attribute')) ?? []) specs.push({ attribute, mode: 'drop' });
  for (const [attribute, k] of s('coarsen') ? pairs(s('coarsen')!, 'coarsen') : []) specs.push({ attribute, mode: 'coarsen', minSeries: integer(k, 'coarsen', 2)! });
  if (s('hide-distribution')) specs.push(await replaceSpec(s('hide-distribution')!, 'hide-distribution'));
  return specs.length ? specs : undefined;
}

/** Validates CLI-built arguments with the contract's schema; a bad field is a usage error naming its flag. */
async function checked<T>(schemaName: 'trainSettings', value: unknown): Promise<T> {
  const contract = await import('../api/contract.ts');
  const result = contract[schemaName].safeParse(value);
  if (result.success) return result.data as T;
  const issue = result.error.issues[0];
  const field = issue.path.join('.');
  throw new UsageError(`${FLAGS[field] ?? FLAGS[String(issue.path[0])] ?? field}: ${issue.message}`);
}

/** Hooks that draw a progress bar and turn the first Ctrl-C into a checkpointed stop. */
function trainingHooks(): { hooks: RunHooks; finish: () => void } {
  const bar = progressBar('training');
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    bar.log('stopping after this iteration and writing a checkpoint (Ctrl-C again to quit at once)');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  return {
    hooks: {
      signal: controller.signal,
      onLog: (m) => bar.log(m),
      onProgress: (p) =>
        bar.update(
          p.iteration,
          p.totalIterations,
          `epoch ${p.epoch} D ${p.losses.critic.toFixed(3)} G ${p.losses.generator.toFixed(3)}${p.privacy ? ` eps ${p.privacy.epsilon.toFixed(2)}` : ''}` +
            `${p.exposure !== undefined ? ` member AUC ${p.exposure.toFixed(2)}` : ''} ${p.examplesPerSecond.toFixed(0)} ex/s ETA ${formatSeconds(p.etaSeconds)}`,
        ),
    },
    finish: () => {
      bar.finish();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    },
  };
}

async function reportRun(summary: RunSummary, runArg: string): Promise<void> {
  const { formatDelta } = await import('../privacy/dp.ts');
  if (summary.status === 'cancelled') {
    process.stderr.write(`stopped at iteration ${summary.iteration}/${summary.totalIterations}; continue with: dg train --resume ${runArg}\n`);
  } else {
    process.stderr.write(
      `trained ${summary.iteration} iterations in ${formatSeconds(summary.elapsedSeconds)} on the ${summary.engine} engine; generate with: dg generate ${runArg} -n 1000 --out synthetic.csv\n`,
    );
  }
  const { privacy, exposure, privacyGuard } = summary;
  if (privacyGuard && privacyGuard.status !== 'watching') process.stderr.write(`${privacyGuard.message}\n`);
  if (privacy) process.stderr.write(`privacy spent (DP-SGD): epsilon ${privacy.epsilon.toFixed(3)} at delta ${formatDelta(privacy.delta)}\n`);
  if (exposure !== undefined) {
    process.stderr.write(
      `membership exposure: the trained critic tells training series from held-out ones with AUC ${exposure.toFixed(2)} (0.5: no sign of memorization); ` +
        `dg evaluate --run ${runArg} reviews what the synthetic data exposes\n`,
    );
  }
  if (summary.released) {
    process.stderr.write(`${summary.released.attribute}'s learned distribution is hidden: dg generate draws attributes from ${summary.released.file}\n`);
  }
  const spent = privacy ? { epsilon: privacy.epsilon, delta: privacy.delta } : {};
  const guarded = privacyGuard ? { privacyGuard: privacyGuard.status, ...(privacyGuard.keptIteration !== undefined ? { keptIteration: privacyGuard.keptIteration } : {}) } : {};
  const exposed = exposure !== undefined ? { exposure } : summary.exposureUnavailable ? { exposureUnavailable: summary.exposureUnavailable } : {};
  process.stdout.write(
    `${JSON.stringify({ run: summary.runDir, status: summary.status, iteration: summary.iteration, elapsedSeconds: +summary.elapsedSeconds.toFixed(2), engine: summary.engine, ...spent, ...exposed, ...guarded, ...(summary.released ? { released: summary.released.file } : {}) })}\n`,
  );
}

async function inspectCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { ...layoutOptions, 'write-schema': { type: 'string' }, json: { type: 'boolean' } } });
  if (positionals.length !== 1) throw new UsageError('dg inspect takes one FILE');
  const { inspectFile } = await import('../data/index.ts');
  const result = await inspectFile(positionals[0], await readOptionsFrom(values), readingProgress(positionals[0]));
  if (values['write-schema']) {
    fs.writeFileSync(values['write-schema'], `${JSON.stringify(result.schema, null, 2)}\n`);
    process.stderr.write(`schema written to ${values['write-schema']}: edit kinds/roles there and pass it with --schema\n`);
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }
  const rows = result.stats.map((s) => [
    s.name,
    s.kind,
    s.role,
    String(s.distinct),
    String(s.missing),
    s.min !== undefined
      ? `${s.min} .. ${s.max}`
      : (s.topCategories ?? [])
          .slice(0, 3)
          .map((c) => c.label)
          .join(', '),
  ]);
  const header = ['column', 'kind', 'role', 'distinct', 'missing', 'range / top values'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  process.stdout.write(
    `${positionals[0]}: ${result.series} series, length ${result.lengths.min}..${result.lengths.max} (mean ${result.lengths.mean.toFixed(1)}), layout ${result.schema.layout.kind}\n`,
  );
  process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
  for (const w of result.warnings) process.stdout.write(`warning: ${w}\n`);
  return 0;
}

async function trainCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...layoutOptions,
      resume: { type: 'string' },
      out: { type: 'string' },
      'sample-len': { type: 'string' },
      epochs: { type: 'string' },
      iterations: { type: 'string' },
      batch: { type: 'string' },
      seed: { type: 'string' },
      engine: { type: 'string' },
      'holdout-fraction': { type: 'string' },
      'checkpoint-every': { type: 'string' },
      'privacy-guard': { type: 'string' },
      'auto-normalize': { type: 'string' },
      'bound-categories': { type: 'string' },
      model: { type: 'string' },
      'dp-epsilon': { type: 'string' },
      'dp-noise': { type: 'string' },
      'dp-delta': { type: 'string' },
      'dp-clip': { type: 'string' },
      'drop-attribute': { type: 'string' },
      coarsen: { type: 'string' },
      'hide-distribution': { type: 'string' },
    },
  });
  const engine = oneOf(values.engine, 'engine', ENGINES);
  if (values.resume) {
    if (positionals.length > 0) throw new UsageError('dg train --resume RUN_DIR takes no data file: the run keeps its own copy of the training data');
    if (values['drop-attribute'] || values.coarsen || values['hide-distribution']) {
      throw new UsageError('a run keeps the attributes it started with: --drop-attribute and --coarsen go with a new run; dg hide RUN_DIR --replace replaces a distribution on a trained run');
    }
    if (dpFrom(values)) throw new UsageError('a run keeps the DP-SGD settings it started with: --dp-* options go with a new run, not --resume');
    const iterations = integer(values.iterations, 'iterations');
    const { resumeTraining } = await import('../api/training.ts');
    const { hooks, finish } = trainingHooks();
    try {
      const summary = await resumeTraining(values.resume, hooks, defined({ iterations, engine }));
      finish();
      await reportRun(summary, values.resume);
      return exitCode(summary);
    } finally {
      finish();
    }
  }
  if (positionals.length !== 1) throw new UsageError('dg train takes one data FILE (or --resume RUN_DIR)');
  if (!values.out) throw new UsageError('dg train needs --out RUN_DIR (where checkpoints and the model go)');
  const settings = await checked<TrainSettings>(
    'trainSettings',
    defined({
      sampleLen: integer(values['sample-len'], 'sample-len'),
      epochs: integer(values.epochs, 'epochs'),
      iterations: integer(values.iterations, 'iterations'),
      batchSize: integer(values.batch, 'batch'),
      seed: integer(values.seed, 'seed', 0),
      engine,
      holdoutFraction: number(values['holdout-fraction'], 'holdout-fraction'),
      checkpointEvery: integer(values['checkpoint-every'], 'checkpoint-every'),
      privacyGuard: values['privacy-guard'] === undefined ? undefined : oneOf(values['privacy-guard'], 'privacy-guard', ['on', 'off'] as const) === 'on',
      autoNormalize: values['auto-normalize'] === undefined ? undefined : oneOf(values['auto-normalize'], 'auto-normalize', ['on', 'off'] as const) === 'on',
      boundCategories: values['bound-categories'] === undefined ? undefined : oneOf(values['bound-categories'], 'bound-categories', ['auto', 'off'] as const) === 'auto',
      model: values.model ? parseModelOverrides(values.model) : undefined,
      dp: dpFrom(values),
      hide: await hideFrom(values),
    }),
  );
  const options = await readOptionsFrom(values);
  const { startTraining } = await import('../api/training.ts');
  const { hooks, finish } = trainingHooks();
  try {
    const summary = await startTraining({ ...settings, data: { file: positionals[0], options }, runDir: values.out }, { ...hooks, onReadProgress: readingProgress(positionals[0]) });
    finish();
    await reportRun(summary, values.out);
    return exitCode(summary);
  } finally {
    finish();
  }
}

async function hideCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { replace: { type: 'string' }, 'sample-rows': { type: 'string' }, seed: { type: 'string' }, engine: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('dg hide takes one RUN_DIR');
  if (!values.replace) throw new UsageError('dg hide needs --replace ATTR=uniform|FILE.csv (dropping or coarsening an attribute needs a new run: dg train --drop-attribute / --coarsen)');
  const replace = await replaceSpec(values.replace, 'replace');
  const { hideSpec } = await import('../api/contract.ts');
  const parsed = hideSpec.safeParse(replace);
  if (!parsed.success) throw new UsageError(`--replace: ${parsed.error.issues[0].message}`);
  const { hideRun } = await import('../api/hiding.ts');
  const request = defined({
    runDir: positionals[0],
    replace,
    sampleRows: integer(values['sample-rows'], 'sample-rows'),
    seed: integer(values.seed, 'seed', 0),
    engine: oneOf(values.engine, 'engine', ENGINES),
  });
  const result = await hideRun(request, (m) => process.stderr.write(`${m}\n`)).catch((error: unknown) => {
    // a bad spec is this command's --replace, not dg train's hiding flags
    if (errorData(error).hint?.option === 'hide') throw new UsageError(`--replace: ${errorData(error).message}`);
    throw error;
  });
  process.stderr.write(`dg generate ${positionals[0]} now draws attributes from this table; delete ${result.file} to release the learned distribution again\n`);
  process.stdout.write(`${JSON.stringify({ file: result.file, attribute: result.attribute, rows: result.rows, target: result.probabilities, unseen: result.unseen })}\n`);
  return 0;
}

/** 130 (as after SIGINT) when the run was stopped: checkpointed and resumable, but not finished. */
const exitCode = (summary: RunSummary) => (summary.status === 'cancelled' ? 130 : 0);

async function generateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { n: { type: 'string', short: 'n' }, out: { type: 'string' }, seed: { type: 'string' }, 'given-attributes': { type: 'string' }, layout: { type: 'string' }, engine: { type: 'string' } },
  });
  if (positionals.length !== 1) throw new UsageError('dg generate takes one RUN_DIR or MODEL.dgm');
  if (!values.out) throw new UsageError('dg generate needs --out FILE.csv|.parquet|.arrow');
  const n = integer(values.n, 'n');
  if (n === undefined && !values['given-attributes']) throw new UsageError('dg generate needs -n N (how many series) or --given-attributes FILE');
  const seed = integer(values.seed, 'seed', 0);
  const engine = oneOf(values.engine, 'engine', ENGINES);
  const layout = oneOf(values.layout, 'layout', ['long', 'wide'] as const);
  const { generateToFile } = await import('../api/generate.ts');
  const bar = progressBar('generating');
  let severalParts = false;
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(130);
    bar.log(`stopping: ${values.out} will not be written (Ctrl-C again to quit at once)`);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const written = await generateToFile(defined({ runDir: positionals[0], n, givenAttributesFile: values['given-attributes'], seed, engine, layout, out: values.out }), {
      onLog: (m) => bar.log(m),
      signal: controller.signal,
      // a bar only when there are several parts (a single part is done in about a second)
      onProgress: (done, total) => {
        if (done < total || severalParts) bar.update(done, total, 'series');
        severalParts = true;
      },
    });
    bar.finish();
    process.stderr.write(`generated ${written.series} series (${written.rows} rows) in ${written.seconds.toFixed(1)}s -> ${written.file}\n`);
    process.stdout.write(`${JSON.stringify({ file: written.file, series: written.series, rows: written.rows, format: written.format })}\n`);
    return 0;
  } catch (error) {
    if (errorData(error).code !== 'cancelled') throw error;
    bar.finish();
    process.stderr.write(`cancelled: nothing was written to ${values.out}\n`);
    return 130;
  } finally {
    bar.finish();
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

async function exportModelCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { out: { type: 'string' } } });
  if (positionals.length !== 1) throw new UsageError('dg export-model takes one RUN_DIR');
  if (!values.out) throw new UsageError('dg export-model needs --out MODEL.dgm');
  const { exportModel } = await import('../api/model-export.ts');
  const { formatDelta } = await import('../privacy/dp.ts');
  const written = exportModel({ runDir: positionals[0], out: values.out, version: version() });
  const guarantee = written.privacy ? `; DP-SGD: epsilon ${written.privacy.epsilon.toFixed(3)} at delta ${formatDelta(written.privacy.delta)}` : '; no DP guarantee';
  process.stderr.write(
    `model of iteration ${written.iteration} written (${written.bytes} bytes${guarantee}) -> ${written.file}; generate with: dg generate ${values.out} -n 1000 --out synthetic.csv\n`,
  );
  process.stdout.write(`${JSON.stringify(written)}\n`);
  return 0;
}

async function epsilonCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      n: { type: 'string' },
      batch: { type: 'string' },
      sigma: { type: 'string' },
      'target-epsilon': { type: 'string' },
      epochs: { type: 'string' },
      delta: { type: 'string' },
      'releases-per-step': { type: 'string' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`dg epsilon takes only options (got ${positionals.join(' ')})`);
  const required = (flag: string) => {
    const value = values[flag as keyof typeof values];
    if (value === undefined) throw new UsageError(`dg epsilon needs --${flag}`);
    return value;
  };
  const sigma = number(values.sigma, 'sigma');
  const target = number(values['target-epsilon'], 'target-epsilon');
  if ((sigma === undefined) === (target === undefined)) throw new UsageError('dg epsilon needs --sigma S (to get epsilon) or --target-epsilon X (to get the noise), exactly one');
  const { accountDpSgd } = await import('../privacy/dp.ts');
  const result = accountDpSgd({
    records: integer(required('n'), 'n')!,
    batchSize: integer(required('batch'), 'batch')!,
    epochs: number(required('epochs'), 'epochs')!,
    delta: number(required('delta'), 'delta')!,
    releasesPerStep: integer(values['releases-per-step'], 'releases-per-step') ?? 1,
    ...(sigma !== undefined ? { noiseMultiplier: sigma } : { targetEpsilon: target! }),
  });
  process.stdout.write(
    target === undefined
      ? `epsilon ${result.epsilon} at delta ${result.delta} (Renyi order ${result.order}; ${result.steps} steps at sampling rate ${result.samplingRate})\n`
      : `noise multiplier ${result.noiseMultiplier} (spends epsilon ${result.epsilon} at delta ${result.delta}, Renyi order ${result.order}; ${result.steps} steps at sampling rate ${result.samplingRate})\n`,
  );
  return 0;
}

async function evaluateCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...layoutOptions,
      real: { type: 'string' },
      run: { type: 'string' },
      synth: { type: 'string' },
      holdout: { type: 'string' },
      target: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      'without-real-series': { type: 'boolean' },
    },
  });
  if (positionals.length > 0) throw new UsageError(`dg evaluate takes no positional arguments (got ${positionals.join(' ')}); use --real/--run, --synth, --out`);
  if (!values.real === !values.run) throw new UsageError('dg evaluate needs the real data: --real FILE or --run RUN_DIR (not both)');
  if (!values.synth) throw new UsageError('dg evaluate needs --synth FILE (the synthetic data to judge)');
  if (!values.out) throw new UsageError('dg evaluate needs --out DIR (for metrics.json, privacy.json and report.html)');
  const seed = integer(values.seed, 'seed', 0);
  const options = await readOptionsFrom(values);
  const { runEvaluate } = await import('../api/evaluate.ts');
  const result = await runEvaluate({
    real: values.real ? { file: values.real } : { runDir: values.run! },
    synthetic: values.synth,
    holdout: values.holdout,
    options,
    outDir: values.out,
    target: values.target,
    seed,
    realSeries: !values['without-real-series'],
    log: (m) => process.stderr.write(`${m}\n`),
    readingProgress,
  });
  process.stderr.write(
    `${result.summary}\nSharing: ${result.recommendation.label}. ${result.recommendation.summary}\nPrivacy:\n${result.privacy.statements.map((s) => `- ${s}`).join('\n')}\nreport: ${result.reportFile}\n`,
  );
  process.stdout.write(`${JSON.stringify({ metrics: result.metricsFile, privacy: result.privacyFile, report: result.reportFile })}\n`);
  return 0;
}

async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' }, epochs: { type: 'string' }, seed: { type: 'string' }, engine: { type: 'string' } } });
  const request = defined({ outDir: values.out ?? 'dg-demo', epochs: integer(values.epochs, 'epochs'), seed: integer(values.seed, 'seed', 0), engine: oneOf(values.engine, 'engine', ENGINES) });
  const { runDemo } = await import('../api/demo.ts');
  const bar = progressBar('training');
  let result: Awaited<ReturnType<typeof runDemo>>;
  try {
    result = await runDemo(request, {
      onLog: (m) => bar.log(m),
      onProgress: (p) =>
        bar.update(
          p.iteration,
          p.totalIterations,
          `D ${p.losses.critic.toFixed(3)} G ${p.losses.generator.toFixed(3)}${p.exposure !== undefined ? ` member AUC ${p.exposure.toFixed(2)}` : ''} ETA ${formatSeconds(p.etaSeconds)}`,
        ),
    });
  } finally {
    bar.finish();
  }
  const mean = (m: { real: number; synthetic: number }, unit: string) => `${m.real.toFixed(0)} real vs ${m.synthetic.toFixed(0)} synthetic ${unit}`;
  const accuracy = result.discriminativeAccuracy;
  const attack = result.strongestAttack;
  process.stdout.write(
    `demo: trained ${result.iterations} iterations in ${formatSeconds(result.elapsedSeconds)} (${result.engine}); ` +
      `${result.syntheticSeries} synthetic series -> ${result.syntheticFile}; mean download ${mean(result.means.download, 'Mbps')}, latency ${mean(result.means.latency, 'ms')}; ` +
      `a classifier tells them from real ${accuracy === null ? 'n/a' : `${(accuracy * 100).toFixed(0)}%`} of the time (50% = indistinguishable); ` +
      `${result.copiesOfTraining} copies of training lines${attack ? `; strongest membership attack (${attack.name}, needs the ${attack.needs}) AUC ${attack.auc.toFixed(2)} [${attack.low.toFixed(2)}, ${attack.high.toFixed(2)}] (0.5 = guessing): ${attack.verdict}` : ''}; report: ${result.reportFile}\n`,
  );
  return 0;
}

/** An error's hint in CLI words: the option it names becomes the flag. */
function hintText(hint: ErrorHint | undefined): string {
  if (!hint) return '';
  const flag = hint.option ? FLAGS[hint.option] : undefined;
  const value = hint.value !== undefined && flag && !flag.startsWith('--no-') ? ` ${hint.value}` : '';
  return flag ? `\nhint: ${hint.text} (${flag}${value})` : `\nhint: ${hint.text}`;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`dg ${version()}\n`);
    return 0;
  }
  // `dg train --help` and the like: that command's usage, not a parse error (a lone '--' ends the options)
  const optionArgs = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (command !== undefined && (optionArgs.includes('--help') || optionArgs.includes('-h'))) {
    const own = COMMAND_HELP[command];
    process.stdout.write(own ? `dg ${command}: ${COMMAND_SUMMARY[command]}\n\n${own}\n\n${MORE}\n` : `${HELP}\n`);
    return 0;
  }
  try {
    switch (command) {
      case 'inspect':
        return await inspectCommand(rest);
      case 'train':
        return await trainCommand(rest);
      case 'generate':
        return await generateCommand(rest);
      case 'evaluate':
        return await evaluateCommand(rest);
      case 'export-model':
        return await exportModelCommand(rest);
      case 'epsilon':
        return await epsilonCommand(rest);
      case 'demo':
        return await demoCommand(rest);
      case 'hide':
        return await hideCommand(rest);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${HELP}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`dg: ${(error as Error).message}\nRun 'dg help' for usage.\n`);
      return 2;
    }
    const data: ApiErrorData = errorData(error);
    process.stderr.write(`dg: ${data.message}${hintText(data.hint)}\n`);
    if (process.env.DG_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
    return data.code === 'invalid_argument' ? 2 : 1;
  }
}

export { UsageError };
