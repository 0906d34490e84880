import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoDataset } from '../core/data/demo.ts';
import { writeDataset } from '../core/export/index.ts';
import { readDataset } from '../core/data/index.ts';
import { attackVerdict } from '../core/privacy/review.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dgBin = path.join(repo, 'bin', 'dg.js');
const dg = (args: string[], cwd: string) => spawnSync(process.execPath, [dgBin, ...args], { cwd, encoding: 'utf8' });

async function fixture() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-cli-'));
  const file = path.join(dir, 'lines.csv');
  await writeDataset(demoDataset({ series: 24, length: 12, seed: 5 }), file);
  return { dir, file };
}

test("dg COMMAND --help prints that command's options only; dg help the global page; dg --version the version", () => {
  const dir = os.tmpdir();
  const train = dg(['train', '--help'], dir);
  assert.equal(train.status, 0, train.stderr);
  assert.match(train.stdout, /^dg train: /);
  assert.match(train.stdout, /--engine auto\|cuda\|native\|reference/);
  assert.match(train.stdout, /--dp-epsilon E/);
  assert.match(train.stdout, /--privacy-guard on\|off/);
  assert.match(train.stdout, /--id COL --time COL/);
  assert.doesNotMatch(train.stdout, /dg generate RUN_DIR|dg evaluate --real|--given-attributes/);
  assert.match(train.stdout, /Run 'dg help' for every command\.\n$/);
  const generate = dg(['generate', 'run', '-h'], dir);
  assert.equal(generate.status, 0, generate.stderr);
  assert.match(generate.stdout, /^dg generate: [\s\S]*--given-attributes FILE[\s\S]*--engine auto/);
  assert.doesNotMatch(generate.stdout, /--dp-epsilon|--id COL/);
  for (const command of ['demo', 'inspect', 'evaluate', 'export-model', 'epsilon']) {
    const r = dg([command, '--help'], dir);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^dg ${command}: [\\s\\S]*Usage:\\n  dg ${command} `));
    assert.doesNotMatch(r.stdout, /--dp-epsilon/, command);
  }
  for (const args of [['help'], ['--help'], ['-h']]) {
    const r = dg(args, dir);
    assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /^dg: DoppelGANger/);
    assert.match(r.stdout, /dg generate RUN_DIR[\s\S]*--engine auto\|cuda\|native\|reference[\s\S]*--dp-epsilon/);
    assert.match(r.stdout, /dg COMMAND --help/);
  }
  const version = dg(['--version'], dir);
  assert.equal(version.status, 0);
  assert.equal(version.stdout, `dg ${JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')).version}\n`);
  const bad = dg(['train', '--bogus'], dir);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /Unknown option '--bogus'[\s\S]*Run 'dg help' for usage/);
});

test("dg epsilon prints the accountant's epsilon and order, or the noise for a target epsilon; bad arguments exit 2", () => {
  const dir = os.tmpdir();
  // TF Privacy's compute_dp_sgd_privacy for N = 100,000, batch 100, sigma 1, 30 epochs, delta 1e-7
  const vector = dg(['epsilon', '--n', '100000', '--batch', '100', '--sigma', '1.0', '--epochs', '30', '--delta', '1e-7'], dir);
  assert.equal(vector.status, 0, vector.stderr);
  const m = /^epsilon (\S+) at delta 1e-7 \(Renyi order (\S+);/.exec(vector.stdout);
  assert.ok(m, vector.stdout);
  assert.ok(Math.abs(Number(m[1]) - 1.41549884954) < 1e-6, m[1]);
  assert.equal(m[2], '13');
  // the inverse: the noise for that epsilon is sigma 1 (to the accountant's 0.1%), and spends at most it
  const inverse = dg(['epsilon', '--n', '100000', '--batch', '100', '--target-epsilon', '1.41549884954', '--epochs', '30', '--delta', '1e-7'], dir);
  assert.equal(inverse.status, 0, inverse.stderr);
  const noise = /^noise multiplier (\S+) \(spends epsilon (\S+) /.exec(inverse.stdout);
  assert.ok(noise, inverse.stdout);
  assert.ok(Math.abs(Number(noise[1]) - 1) < 2e-3 && Number(noise[2]) <= 1.41549884954, inverse.stdout);
  // R releases per step: the accountant sees sigma / sqrt(R), so sigma 2 with R = 4 spends what sigma 1 does
  const releases = dg(['epsilon', '--n', '100000', '--batch', '100', '--sigma', '2', '--epochs', '30', '--delta', '1e-7', '--releases-per-step', '4'], dir);
  assert.equal(releases.status, 0, releases.stderr);
  assert.equal(/^epsilon (\S+)/.exec(releases.stdout)?.[1], m[1]);
  const help = dg(['epsilon', '--help'], dir);
  assert.match(help.stdout, /--releases-per-step R[\s\S]*critic steps x 2 per iteration/);
  for (const [args, message] of [
    [['--n', '100', '--batch', '10', '--epochs', '1', '--delta', '1e-5'], /--sigma S .* or --target-epsilon X/],
    [['--n', '100', '--batch', '10', '--sigma', '1', '--target-epsilon', '2', '--epochs', '1', '--delta', '1e-5'], /exactly one/],
    [['--batch', '10', '--sigma', '1', '--epochs', '1', '--delta', '1e-5'], /needs --n/],
    [['--n', '100', '--batch', '10', '--sigma', 'x', '--epochs', '1', '--delta', '1e-5'], /--sigma must be a number/],
    [['--n', '100', '--batch', '10', '--sigma=-1', '--epochs', '1', '--delta', '1e-5'], /noise multiplier must be a positive number[\s\S]*\(--sigma\)/],
    [['--n', '100', '--batch', '200', '--sigma', '1', '--epochs', '1', '--delta', '1e-5'], /batch size must be an integer from 1 to[\s\S]*\(--batch\)/],
    [['--n', '100', '--batch', '10', '--sigma', '1', '--epochs', '1', '--delta', '2'], /delta must be between 0 and 1[\s\S]*\(--delta\)/],
  ] as const) {
    const r = dg(['epsilon', ...args], dir);
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message);
  }
});

test('dg inspect prints the inferred schema and writes a schema file', async () => {
  const { dir, file } = await fixture();
  const r = dg(['inspect', file, '--id', 'line_id', '--time', 'hour', '--write-schema', 'schema.json'], dir);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /24 series/);
  assert.match(r.stdout, /isp\s+categorical\s+attribute/);
  assert.match(r.stdout, /download_mbps\s+continuous\s+feature/);
  const schema = JSON.parse(fs.readFileSync(path.join(dir, 'schema.json'), 'utf8'));
  assert.equal(schema.version, 1);
});

test('dg train -> generate writes known labels in the input layout; bad input gives a clear error', async () => {
  const { dir, file } = await fixture();
  const train = dg(['train', file, '--id', 'line_id', '--time', 'hour', '--sample-len', '4', '--iterations', '3', '--batch', '8', '--engine', 'reference', '--out', 'run'], dir);
  assert.equal(train.status, 0, train.stderr);
  assert.equal(JSON.parse(train.stdout.trim()).status, 'complete');
  const gen = dg(['generate', 'run', '-n', '6', '--seed', '2', '--out', 'synth.csv'], dir);
  assert.equal(gen.status, 0, gen.stderr);
  const { dataset } = await readDataset(path.join(dir, 'synth.csv'), { idColumn: 'line_id', timeColumn: 'hour' });
  assert.equal(dataset.series.length, 6);
  const real = demoDataset({ series: 24, length: 12, seed: 5 });
  for (const s of dataset.series) {
    assert.equal(s.length, 12);
    assert.ok(s.features.every((column) => column.length === 12));
    real.attributes.forEach((c, k) => assert.ok(c.categories!.includes(s.attributes[k] as string), `${c.name}=${s.attributes[k]}`));
  }

  const evaluated = dg(['evaluate', '--real', file, '--id', 'line_id', '--time', 'hour', '--synth', 'synth.csv', '--out', 'eval'], dir);
  assert.equal(evaluated.status, 0, evaluated.stderr);
  const metrics = JSON.parse(fs.readFileSync(path.join(dir, 'eval', 'metrics.json'), 'utf8'));
  assert.equal(metrics.synthetic.discriminative !== undefined, true);
  assert.match(fs.readFileSync(path.join(dir, 'eval', 'report.html'), 'utf8'), /<svg/);

  const missing = dg(['train', 'nope.csv', '--out', 'run2'], dir);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /nope\.csv/);
  const usage = dg(['train', file, '--out', 'run3', '--epochs', 'many'], dir);
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /--epochs must be an integer/);
  const again = dg(['train', file, '--id', 'line_id', '--out', 'run'], dir);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already holds a training run/);
});

test('Ctrl-C during dg train checkpoints; dg train --resume finishes the run', async () => {
  const { dir, file } = await fixture();
  const child = spawn(process.execPath, [dgBin, 'train', file, '--id', 'line_id', '--sample-len', '4', '--iterations', '100000', '--batch', '8', '--engine', 'reference', '--out', 'run'], {
    cwd: dir,
  });
  let stderr = '';
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      // Interrupt once training has visibly started.
      if (/training \d+%/.test(stderr) || /training \[/.test(stderr)) resolve();
    });
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  // interrupted (130, as after SIGINT), yet checkpointed and resumable
  assert.equal(code, 130, stderr);
  assert.match(stderr, /checkpoint written at iteration \d+ \(cancelled\)/);
  assert.match(stderr, /continue with: dg train --resume run/);
  const resumed = dg(['train', '--resume', 'run', '--iterations', '3'], dir);
  // The run had done at least one iteration; resuming to 3 either finishes it or says it is complete.
  assert.equal(resumed.status, 0, resumed.stderr);
});

test('Ctrl-C during dg generate stops it and leaves neither the file nor a temporary one', async () => {
  const { dir, file } = await fixture();
  const trained = dg(['train', file, '--id', 'line_id', '--sample-len', '4', '--iterations', '2', '--batch', '8', '--out', 'run'], dir);
  assert.equal(trained.status, 0, trained.stderr);
  // 12-step series: parts of 83,000; 2M series take many parts (and far longer than the test waits)
  const child = spawn(process.execPath, [dgBin, 'generate', 'run', '-n', '2000000', '--out', 'synthetic.csv'], { cwd: dir });
  let stderr = '';
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      if (/generating (\[|\d+%)/.test(stderr)) resolve();
    });
  });
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /cancelled: nothing was written to synthetic\.csv/);
  assert.deepEqual(
    fs.readdirSync(dir).filter((name) => name.startsWith('synthetic')),
    [],
  );
});

test('dg train --privacy-guard takes on or off, --bound-categories auto or off', () => {
  const r = dg(['train', 'missing.csv', '--privacy-guard', 'maybe', '--out', 'run'], os.tmpdir());
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--privacy-guard must be one of on, off, got 'maybe'/);
  const b = dg(['train', 'missing.csv', '--bound-categories', 'on', '--out', 'run'], os.tmpdir());
  assert.notEqual(b.status, 0);
  assert.match(b.stderr, /--bound-categories must be one of auto, off, got 'on'/);
});

test("dg evaluate --run reads dg generate output by the run's own id and time columns, whatever their names", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-cli-'));
  // 'page' and 'day' are names the layout detection does not guess
  const lines = ['page,day,views,domain'];
  for (let p = 0; p < 30; p++) for (let d = 0; d < 10; d++) lines.push(`p${p},${d},${(p * 7 + d * 3) % 11},${['en', 'fr', 'de'][p % 3]}`);
  fs.writeFileSync(path.join(dir, 'wiki.csv'), lines.join('\n') + '\n');
  const trained = dg(['train', 'wiki.csv', '--id', 'page', '--time', 'day', '--sample-len', '5', '--iterations', '2', '--out', 'run'], dir);
  assert.equal(trained.status, 0, trained.stderr);
  const generated = dg(['generate', 'run', '-n', '40', '--out', 'synth.csv'], dir);
  assert.equal(generated.status, 0, generated.stderr);
  assert.ok(fs.readFileSync(path.join(dir, 'synth.csv'), 'utf8').startsWith('page,day,views,domain\n'));
  const evaluated = dg(['evaluate', '--run', 'run', '--synth', 'synth.csv', '--out', 'eval'], dir);
  assert.equal(evaluated.status, 0, evaluated.stderr);
  assert.match(evaluated.stderr, /evaluating 40 synthetic series against 30 real series/);
});

test('dg train --dp-epsilon trains with DP-SGD and reports the privacy spent; DP options that cannot work are refused', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-cli-dp-'));
  await writeDataset(demoDataset({ series: 300, length: 12, seed: 5 }), path.join(dir, 'lines.csv'));
  const layout = ['--id', 'line_id', '--time', 'hour', '--sample-len', '4'];
  const trained = dg(['train', 'lines.csv', ...layout, '--iterations', '4', '--batch', '50', '--engine', 'native', '--dp-epsilon', '5', '--out', 'run'], dir);
  assert.equal(trained.status, 0, trained.stderr);
  assert.match(trained.stderr, /DP-SGD: noise multiplier [\d.]+ \(solved for epsilon 5\), clip norm 1, Poisson-sampled batches of 50 series/);
  assert.match(trained.stderr, /privacy spent \(DP-SGD\): epsilon 4\.9\d\d at delta 1e-5\n/);
  const result = JSON.parse(trained.stdout.trim());
  assert.ok(result.epsilon <= 5 && result.epsilon > 4.9 && result.delta === 1e-5, trained.stdout);
  // the privacy review of its synthetic data: three attacks (the critic's too, from the run), the DP bound
  assert.equal(dg(['generate', 'run', '-n', '120', '--out', 'synth.csv'], dir).status, 0);
  const evaluated = dg(['evaluate', '--run', 'run', '--synth', 'synth.csv', '--out', 'eval'], dir);
  assert.equal(evaluated.status, 0, evaluated.stderr);
  assert.match(evaluated.stderr, /Privacy:\n- (No synthetic series copies|\d+ synthetic series)/);
  // the answer on sharing next to the one on fidelity, on the console and at the top of the report
  assert.match(evaluated.stderr, /\nSharing: (Within the team|Trusted partners|Public)\. .+\nPrivacy:\n/);
  assert.match(fs.readFileSync(path.join(dir, 'eval', 'report.html'), 'utf8'), /<p class="summary">.*<\/p>\n<p class="summary"><strong>Sharing: (Within the team|Trusted partners|Public)\.<\/strong>/);
  const privacy = JSON.parse(fs.readFileSync(path.join(dir, 'eval', 'privacy.json'), 'utf8'));
  assert.deepEqual(
    privacy.attacks.map((a: { name: string }) => a.name),
    ['nearest generated series', 'generated series nearby', 'critic score'],
  );
  assert.equal(privacy.closestRecord.seriesPerSide, 30);
  assert.equal(privacy.dp.epsilon, result.epsilon);
  assert.match(fs.readFileSync(path.join(dir, 'eval', 'report.html'), 'utf8'), /<h2>Privacy<\/h2><ul><li>/);

  const clipOnly = dg(['train', 'lines.csv', ...layout, '--dp-clip', '2', '--out', 'run2'], dir);
  assert.equal(clipOnly.status, 2);
  assert.match(clipOnly.stderr, /--dp-delta and --dp-clip need --dp-epsilon/);
  const both = dg(['train', 'lines.csv', ...layout, '--dp-epsilon', '1', '--dp-noise', '2', '--out', 'run2'], dir);
  assert.equal(both.status, 2);
  assert.match(both.stderr, /not both/);
  const onResume = dg(['train', '--resume', 'run', '--dp-epsilon', '1'], dir);
  assert.equal(onResume.status, 2);
  assert.match(onResume.stderr, /keeps the DP-SGD settings it started with/);
  const tinyBatch = dg(['train', 'lines.csv', ...layout, '--batch', '2', '--iterations', '100000', '--dp-noise', '1', '--out', 'run3'], dir);
  // an invalid setting found by the API: exit 2, and its hint turned into the flag to change
  assert.equal(tinyBatch.status, 2);
  assert.match(tinyBatch.stderr, /an empty sample is too likely for delta 1e-5: use a larger batch size\nhint: use a larger batch size \(--batch 4\)/);
});

test('dg demo trains on built-in data and writes the synthetic series, the report and the privacy review', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-demo-'));
  const demo = dg(['demo', '--epochs', '2', '--out', 'demo'], dir);
  assert.equal(demo.status, 0, demo.stderr);
  assert.match(
    demo.stdout,
    /^demo: trained 6 iterations .* 360 synthetic series -> .*synthetic\.csv; .* copies of training lines; strongest membership attack \([a-z ]+, needs the [a-z ]+\) AUC \d\.\d\d \[\d\.\d\d, \d\.\d\d\] \(0\.5 = guessing\): [^;]+; report: .*report\.html\n$/,
  );
  for (const file of ['demo-real.csv', 'synthetic.csv', 'metrics.json', 'privacy.json', 'report.html']) assert.ok(fs.existsSync(path.join(dir, 'demo', file)), file);
  const privacy = JSON.parse(fs.readFileSync(path.join(dir, 'demo', 'privacy.json'), 'utf8'));
  assert.equal(privacy.attacks.length, 3, 'the demo run keeps a holdout, so the critic attack runs too');
  // the summary names the worst attack of its own review, in the review's words
  type Attack = { name: string; needs: string; auc: number; aucLow: number; aucHigh: number; members: number; nonMembers: number; tprAtLowFpr: number; fpr: number };
  const worst = (privacy.attacks as Attack[]).reduce((a, b) => (b.auc > a.auc ? b : a));
  const named = demo.stdout.match(/strongest membership attack \(([a-z ]+), needs the ([a-z ]+)\) AUC (\d\.\d\d) \[(\d\.\d\d), (\d\.\d\d)\] \(0\.5 = guessing\): ([^;]+);/)!;
  assert.deepEqual(named.slice(1), [worst.name, worst.needs, worst.auc.toFixed(2), worst.aucLow.toFixed(2), worst.aucHigh.toFixed(2), attackVerdict(worst)]);
  // its progress line shows the member AUC it tracks (the demo keeps a holdout of 40 lines)
  assert.match(demo.stderr, /training .*member AUC \d\.\d\d/);
});

test('bin/dg.js runs the compiled CLI when its build is fresh, the TypeScript sources (tsx) when a source is newer or the build is missing', () => {
  // a copy of the layout bin/dg.js expects (not the real tree, so that nothing is touched there): one
  // source, its "compiled" twin, and the build stamp; each says which one ran
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-bin-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.copyFileSync(dgBin, path.join(dir, 'bin', 'dg.js'));
  fs.writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}\n');
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'));
  const source = path.join(dir, 'core', 'cli', 'main.ts');
  fs.mkdirSync(path.dirname(source), { recursive: true });
  fs.writeFileSync(source, "export const main = async (args: string[]): Promise<number> => { console.log('source', args.join(' ')); return 0; };\n");
  const compiled = path.join(dir, '.build', 'core', 'cli', 'main.js');
  fs.mkdirSync(path.dirname(compiled), { recursive: true });
  fs.writeFileSync(compiled, "export const main = async (args) => { console.log('compiled', args.join(' ')); return 3; };\n");
  const hourAgo = Date.now() / 1000 - 3600;
  fs.utimesSync(source, hourAgo, hourAgo);
  const stamp = (started: number) => fs.writeFileSync(path.join(dir, '.build', 'stamp.json'), JSON.stringify({ started, sources: ['core/cli/main.ts'] }));
  const run = (env: Record<string, string> = {}) => {
    // this test's own choice of build, whatever DG_CLI_BUILD the suite runs under
    const { DG_CLI_BUILD: _, ...inherited } = process.env;
    return spawnSync(process.execPath, [path.join(dir, 'bin', 'dg.js'), 'x', 'y'], { encoding: 'utf8', env: { ...inherited, ...env } });
  };

  stamp(Date.now());
  const fresh = run();
  assert.equal(fresh.stdout, 'compiled x y\n', fresh.stderr);
  assert.equal(fresh.status, 3, "the exit code is main()'s");
  // a source edited after the build started: the sources run, silently
  stamp((hourAgo - 60) * 1000);
  const stale = run();
  assert.deepEqual([stale.stdout, stale.stderr, stale.status], ['source x y\n', '', 0]);
  // DG_CLI_BUILD points elsewhere (a folder without a build): the sources
  stamp(Date.now());
  assert.equal(run({ DG_CLI_BUILD: path.join(dir, 'none') }).stdout, 'source x y\n');
  // a source the build read is gone: stale too
  fs.writeFileSync(path.join(dir, '.build', 'stamp.json'), JSON.stringify({ started: Date.now(), sources: ['core/cli/main.ts', 'core/gone.ts'] }));
  assert.equal(run().stdout, 'source x y\n');
  // no build and no tsx: one line saying so
  fs.unlinkSync(path.join(dir, 'node_modules'));
  const neither = run({ DG_CLI_BUILD: path.join(dir, 'none') });
  assert.equal(neither.status, 1);
  assert.match(neither.stderr, /^dg: no up-to-date compiled CLI \(npm run build:cli\) and no tsx to run the TypeScript sources\n$/);
  fs.rmSync(dir, { recursive: true, force: true });
});
