/**
 * An experiment helper for bench/SUITE.md's investigation: `dg train` with auto-normalization forced on or
 * off, another S or seed, through the same API call dg train makes (the CLI's --auto-normalize,
 * --sample-len and --seed do the same; this keeps the suite's layout in one place):
 *   node --import tsx bench/suite/train-with.ts DATA.csv RUN_DIR ID TIME ATTRS FEATURES [autoNormalize=true|false] [sampleLen=N] [seed=N] [iterations=N] [privacyGuard=true|false]
 * Everything else stays the default.
 */
import { startTraining } from '../../core/api/training.ts';

const [file, runDir, idColumn, timeColumn, attrs, feats, ...rest] = process.argv.slice(2);
const overrides: { autoNormalize?: boolean; sampleLen?: number; seed?: number; iterations?: number; privacyGuard?: boolean } = {};
for (const kv of rest) {
  const [k, v] = kv.split('=');
  if (k === 'autoNormalize') overrides.autoNormalize = v === 'true';
  else if (k === 'sampleLen') overrides.sampleLen = Number(v);
  else if (k === 'seed') overrides.seed = Number(v);
  else if (k === 'iterations') overrides.iterations = Number(v);
  else if (k === 'privacyGuard') overrides.privacyGuard = v === 'true';
  else throw new Error(`unknown override ${kv}`);
}
const summary = await startTraining(
  { data: { file, options: { idColumn, timeColumn, attributes: attrs.split(','), features: feats.split(',') } }, runDir, ...overrides },
  { onLog: (line: string) => console.log(line) },
);
console.log(JSON.stringify({ status: summary.status, iteration: summary.iteration, elapsedSeconds: summary.elapsedSeconds }));
