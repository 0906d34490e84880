/**
 * The CUDA plugin (core/native/out/libdg_cuda.so) as the engine layer sees it: built with nvcc where
 * nvcc exists (`make -C core/native cuda-lib`; skipped, saying so, where it does not), loaded by the
 * addon at run time, probed with cudaStatus, and chosen by `createEngine('auto')` only when usable.
 *
 * On a machine without a GPU (or driver) these check that the real plugin loads and reports why CUDA
 * is unavailable, that auto then picks the native CPU engine and says why, that `cuda` fails with a
 * clear message, and that bad plugin paths are answers, not crashes. On a GPU machine the same file
 * instead checks the CUDA engine against the CPU engine (5 identical-seed iterations, state, scores,
 * generation).
 *
 * Everywhere, the binding's CUDA path also runs twice without a GPU: on a CPU stand-in for the plugin
 * (the CPU core behind the plugin's API) and on the real dg_cuda.cu built for the CUDA emulator
 * (core/native/cuda_emu/, g++ only).
 *
 * The addon must already be built (`npx node-gyp rebuild -C core/native`, the package's install step).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EncodedDataset } from '../core/encoding/types.ts';
import type { Engine, EngineState, StepLosses } from '../core/model/engine.ts';
import { createEngine, engineLabel } from '../core/model/engines.ts';
import { createNativeEngine, cudaStatus, loadNativeAddon, nativeAddonPath, type NativeEngine } from '../core/model/native.ts';
import type { TrainingPlan } from '../core/train/checkpoint.ts';
import { createBatchSampler, runLoop } from '../core/train/loop.ts';
import { Rng } from '../core/util/rng.ts';
import { assertResumeIsExact } from './fixtures/resume-check.ts';
import { randomBatch, relativeError, tinyConfig, tinyLayout } from './fixtures/tiny-model.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = path.join(repoRoot, 'core/native');
const library = path.join(nativeDir, 'out/libdg_cuda.so');
const bogusLibrary = path.join(repoRoot, 'no-such-dir/libdg_cuda.so');
/** dg_cuda.cu built for the CUDA emulator (core/native/cuda_emu/); the first test using it builds it. */
const emulated = path.join(nativeDir, 'out/emu/libdg_cuda.so');

assert.ok(fs.existsSync(nativeAddonPath), `the native addon is not built (${nativeAddonPath}); build it with \`npx node-gyp rebuild -C core/native\` before running this test`);

// The engine layer looks here (DG_CUDA_LIBRARY overrides the default path): the plugin this file built.
process.env.DG_CUDA_LIBRARY = library;

const config = tinyConfig({}, tinyLayout(true, true));
const dp = { clipNorm: 1, noiseMultiplier: 0.5 };

/** Builds the plugin (a no-op when up to date); the reason to skip when nvcc is absent, else null. */
function buildPlugin(): string | null {
  const output = make('cuda-lib');
  if (/nvcc not found/.test(output)) return 'nvcc is not installed: the CUDA plugin is built only where nvcc exists';
  assert.ok(fs.existsSync(library), `make -C core/native cuda-lib succeeded but ${library} is missing`);
  return null;
}

/** `make -C core/native TARGET`, failing the test when make fails; make's output. */
function make(target: string): string {
  const result = spawnSync('make', ['-C', nativeDir, '-j2', target], { cwd: repoRoot, encoding: 'utf8', timeout: 600_000, maxBuffer: 64 << 20 });
  if (result.error) throw result.error;
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, 0, `make -C core/native ${target} failed (exit ${result.status}):\n${output.slice(-6000)}`);
  return output;
}

let noNvcc: string | null = null;
let status = cudaStatus(library);

test('the CUDA plugin builds with nvcc (make -C core/native cuda-lib) and loads into the addon', (t) => {
  noNvcc = buildPlugin();
  if (noNvcc) return t.skip(noNvcc);
  status = cudaStatus(library);
  // Loaded and every function resolved: what is left to say is about the driver or the device.
  assert.equal(status.library, library);
  if (!status.available) {
    assert.ok(status.reason, 'an unavailable plugin says why');
    assert.doesNotMatch(status.reason, /cannot load|lacks|no CUDA plugin/, 'the plugin itself should load');
  }
});

test('cudaStatus: without a GPU, unavailable with the reason (and creating a CUDA model fails with it); with one, the device', (t) => {
  if (noNvcc) return t.skip(noNvcc);
  const addon = loadNativeAddon();
  if (status.available) {
    assert.match(status.device!, /sm_\d+/);
    return;
  }
  assert.match(status.reason!, /no CUDA device|driver|cannot run this build/);
  console.log(`CUDA unavailable here: ${status.reason}`);
  // the binding's CUDA path: the plugin's dg_cuda_create refuses, with the plugin's own error message
  assert.throws(() => addon.create({}, 1, library), /config\.maxLength is missing/);
  assert.throws(
    () => addon.create(nativeConfigFor(), 1, library),
    (e: Error) => e.message === status.reason,
  );
});

/** The binding's config object for the tiny model (what createNativeEngine passes). */
function nativeConfigFor(): object {
  const { layout, ...rest } = config;
  const vars = (v: typeof layout.attributes) => v.map(({ dim, activation }) => ({ dim, activation }));
  return {
    ...rest,
    maxLength: layout.maxLength,
    genFlags: layout.genFlags,
    attributes: vars(layout.attributes),
    additionalAttributes: vars(layout.additionalAttributes),
    features: vars(layout.features),
  };
}

test("createEngine('auto') picks CUDA when usable, else the native CPU engine, and says why it skipped CUDA", async () => {
  const { engine, note } = await createEngine('auto', { config, seed: 3 });
  try {
    if (status.available) {
      assert.equal((engine as NativeEngine).device, 'cuda');
      assert.match(engine.name, /^native-cuda \(.+\)$/);
      assert.equal(note, `engine: ${engineLabel(engine.name)}, the GPU`);
    } else {
      assert.equal((engine as NativeEngine).device, 'cpu');
      assert.match(engine.name, /^native-cpu/);
      // one calm sentence: the engine, and why not the GPU
      assert.match(note!, /^engine: native CPU \(.+, \d+ threads?\); /);
      if (!fs.existsSync(library)) assert.match(note!, /; the CUDA plugin is not built \(no CUDA compiler at install\)$/);
      else if (/no NVIDIA driver/.test(status.reason!)) assert.match(note!, /; no NVIDIA GPU here$/);
      else assert.ok(note!.endsWith(`; CUDA is not usable here (${status.reason})`) || note!.endsWith('; no NVIDIA GPU here'), note);
      assert.doesNotMatch(note!, /unavailable|error|failed/i);
    }
  } finally {
    engine.dispose();
  }
  // DP-SGD runs on CUDA too: auto decides as without it
  const withDp = await createEngine('auto', { config, seed: 3, dp });
  try {
    assert.equal((withDp.engine as NativeEngine).device, status.available ? 'cuda' : 'cpu');
    assert.equal(withDp.note, note);
  } finally {
    withDp.engine.dispose();
  }
});

test("createEngine('cuda') rejects with a clear message where CUDA cannot run", async (t) => {
  if (status.available) return t.skip('CUDA runs here');
  for (const options of [
    { config, seed: 3 },
    { config, seed: 3, dp },
  ]) {
    await assert.rejects(createEngine('cuda', options), (e: Error) => {
      assert.equal(e.message, `CUDA is not available: ${status.reason}`);
      return true;
    });
  }
});

test('a bad plugin path is an answer naming the path, not a crash', async () => {
  const addon = loadNativeAddon();
  // through the engine layer
  const missing = cudaStatus(bogusLibrary);
  assert.equal(missing.available, false);
  assert.ok(missing.reason!.includes(bogusLibrary), missing.reason);
  // the binding itself: dlopen failures, a file that is not a library, a library that is not the plugin
  const direct = addon.cudaStatus(bogusLibrary);
  assert.equal(direct.available, false);
  assert.match(direct.reason!, /^cannot load the CUDA plugin .*no-such-dir\/libdg_cuda\.so: .*No such file/);
  const notElf = path.join(repoRoot, 'package.json');
  assert.match(addon.cudaStatus(notElf).reason!, new RegExp(`^cannot load the CUDA plugin ${notElf.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
  assert.match(addon.cudaStatus(nativeAddonPath).reason!, /lacks dg_cuda_available/);
  assert.match(addon.cudaStatus('libdg_cuda.so').reason!, /must name a file/);
  assert.throws(() => addon.cudaStatus(42 as unknown as string), /must be a string/);
  assert.throws(() => addon.create(nativeConfigFor(), 1, bogusLibrary), /cannot load the CUDA plugin .*no-such-dir/);
  // DG_CUDA_LIBRARY pointing nowhere: auto falls back and names the path; cuda fails naming it
  process.env.DG_CUDA_LIBRARY = bogusLibrary;
  try {
    const { engine, note } = await createEngine('auto', { config, seed: 3 });
    engine.dispose();
    assert.match(note!, new RegExp(`^engine: native CPU \\(.+\\); CUDA is not usable here \\(no plugin at ${bogusLibrary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\)$`));
    await assert.rejects(createEngine('cuda', { config, seed: 3 }), (e: Error) => e.message.includes(bogusLibrary));
  } finally {
    process.env.DG_CUDA_LIBRARY = library;
  }
});

function assertLossesClose(cpu: StepLosses, cuda: StepLosses, tolerance: number, label: string): void {
  for (const key of ['critic', 'auxCritic', 'gradientPenalty', 'auxGradientPenalty', 'generator', 'wassersteinDistance'] as const) {
    assert.ok(Math.abs(cpu[key] - cuda[key]) <= tolerance * Math.max(1, Math.abs(cpu[key])), `${label}: ${key}: cpu ${cpu[key]}, cuda ${cuda[key]}`);
  }
}

/**
 * The CUDA engine at `cudaLibrary` against the CPU engine from the same seed: 5 iterations, then
 * critic scores (before any getState: criticScores must fetch the trained state itself), state,
 * setState back to the initial state (must reach the device: getState and generation then show it),
 * dumpIteration refused.
 * `exact` for the CPU stand-in, whose arithmetic is the CPU engine's.
 */
async function compareWithCpu(cudaLibrary: string, exact: boolean): Promise<void> {
  const seed = 21;
  const cpu = await createNativeEngine({ config, seed, device: 'cpu', threads: 2 });
  const cuda = await createNativeEngine({ config, seed, device: 'cuda', cudaLibrary });
  try {
    assert.equal(cuda.device, 'cuda');
    assert.match(cuda.name, /^native-cuda \(.+\)$/);
    const initial = await cpu.getState();
    assert.deepEqual(await cuda.getState(), initial, 'the same initial state from the same seed');
    for (let it = 0; it < 5; it++) {
      const batches = Array.from({ length: config.criticSteps }, (_, k) => randomBatch(config, 16, new Rng(100 * it + k, 3)));
      const lc = await cpu.trainStep(batches);
      const lg = await cuda.trainStep(batches);
      // the first iteration to float rounding; a few Adam steps keep them within a couple of percent
      if (exact) assert.deepEqual(lg, lc, `iteration ${it + 1}`);
      else assertLossesClose(lc, lg, it === 0 ? 1e-3 : 2e-2, `iteration ${it + 1}`);
    }
    const batch = randomBatch(config, 16, new Rng(7, 3));
    const scoresError = relativeError(await cuda.criticScores(batch), await cpu.criticScores(batch));
    assert.ok(exact ? scoresError === 0 : scoresError < 2e-2, `critic scores after training differ: ${scoresError}`);

    const cpuState = await cpu.getState();
    const cudaState = await cuda.getState();
    assert.deepEqual(cudaState.counters, cpuState.counters, 'the same steps and noise draws');
    assert.deepEqual(
      cudaState.tensors.map((x) => x.name),
      cpuState.tensors.map((x) => x.name),
    );
    if (exact) assert.deepEqual(cudaState, cpuState);

    // setState back to the untrained state: the device then holds exactly that
    await cuda.setState(initial);
    await cpu.setState(initial);
    const roundTrip: EngineState = await cuda.getState();
    roundTrip.tensors.forEach((x, i) => assert.deepEqual(x.data, initial.tensors[i].data, x.name));
    assert.deepEqual(roundTrip.counters, initial.counters);
    assert.ok(relativeError(await cuda.criticScores(batch), await cpu.criticScores(batch)) < 1e-5, 'critic scores on the same state');
    const gc = await cpu.generate(50);
    const gg = await cuda.generate(50);
    const attributesError = relativeError(gg.attributes, gc.attributes);
    assert.ok(exact ? attributesError === 0 : attributesError < 1e-3, `generated attributes differ: ${attributesError}`);
    assert.equal(gg.features.length, gc.features.length);
    assert.ok(gg.lengths.every((l) => l >= 1 && l <= config.layout.maxLength));
    await assert.rejects(cuda.dumpIteration([batch], path.join(repoRoot, 'tmp-never-written.dgtd')), /CPU engine only/);
  } finally {
    cpu.dispose();
    cuda.dispose();
  }
}

test('on a GPU: the CUDA and CPU engines train 5 identical-seed iterations to close losses, and share state', async (t) => {
  if (noNvcc) return t.skip(noNvcc);
  if (!status.available) return t.skip(`no usable GPU here (${status.reason})`);
  await compareWithCpu(library, false);
});

test("the binding's CUDA path, on a CPU stand-in for the plugin (out/libdg_cuda_fake.so): same results as the CPU engine, auto picks it", async () => {
  make('cuda-fake');
  const fake = path.join(nativeDir, 'out/libdg_cuda_fake.so');
  assert.deepEqual(cudaStatus(fake), { available: true, device: 'fake CUDA device (CPU core), sm_00, 0 GiB', library: fake });
  await compareWithCpu(fake, true);
  process.env.DG_CUDA_LIBRARY = fake;
  try {
    const { engine, note } = await createEngine('auto', { config, seed: 3 });
    engine.dispose();
    assert.equal(engine.name, 'native-cuda (fake CUDA device (CPU core), sm_00, 0 GiB)');
    assert.equal(note, 'engine: native CUDA (fake CUDA device (CPU core), sm_00, 0 GiB), the GPU');
  } finally {
    process.env.DG_CUDA_LIBRARY = library;
  }
});

test('the real CUDA core on the CPU emulator (out/emu/libdg_cuda.so): the CUDA engine against the CPU engine, through the binding', async () => {
  make('out/emu/libdg_cuda.so');
  assert.deepEqual(cudaStatus(emulated), { available: true, device: 'CUDA emulator on the CPU (reports sm_90), sm_90, 80 GiB', library: emulated });
  await compareWithCpu(emulated, false);
});

test('on the emulator: the CUDA engine resumed from a saved state trains bit-identically to an uninterrupted one (graphs replayed across setState)', async () => {
  // iterations 1-2 run eagerly then from a captured graph; later ones replay it, across setState
  const twoSteps = tinyConfig({ criticSteps: 2 }, tinyLayout(true, true));
  const { resumed } = await assertResumeIsExact(() => createNativeEngine({ config: twoSteps, seed: 3, device: 'cuda', cudaLibrary: emulated }), twoSteps);
  resumed.dispose();
});

test('on the emulator: DP-SGD on the CUDA engine clips like the CPU engine (no noise), and adds fresh noise when asked', async () => {
  const batches = Array.from({ length: 3 }, (_, it) => Array.from({ length: config.criticSteps }, (_, k) => randomBatch(config, 16, new Rng(300 + 10 * it + k, 3))));
  // a clip norm that clips some examples and not others (this model's example norms average ~12)
  const clipOnly = { clipNorm: 12, noiseMultiplier: 0 };
  const cpu = await createNativeEngine({ config, seed: 4, device: 'cpu', threads: 2, dp: clipOnly });
  const cuda = await createNativeEngine({ config, seed: 4, device: 'cuda', cudaLibrary: emulated, dp: clipOnly });
  let clippedSome = false;
  try {
    for (const [i, batch] of batches.entries()) {
      const lc = await cpu.trainStep(batch);
      const lg = await cuda.trainStep(batch);
      assertLossesClose(lc, lg, i === 0 ? 1e-3 : 2e-2, `DP iteration ${i + 1}`);
      assert.ok(lc.dp && lg.dp, 'both report clip statistics');
      for (const key of ['gradNorm', 'clippedFraction', 'auxGradNorm', 'auxClippedFraction'] as const) {
        assert.ok(Math.abs(lc.dp[key] - lg.dp[key]) <= (i === 0 ? 1e-4 : 5e-2) * Math.max(1, lc.dp[key]), `DP iteration ${i + 1}: ${key}: cpu ${lc.dp[key]}, cuda ${lg.dp[key]}`);
      }
      clippedSome ||= lg.dp.clippedFraction > 0 && lg.dp.clippedFraction < 1;
    }
    assert.ok(clippedSome, 'the clip norm should clip part of a batch in some iteration');
  } finally {
    cpu.dispose();
    cuda.dispose();
  }
  // with noise: same clipping statistics on the first step, other gradients (Adam's first moment: the
  // first Adam step moves each weight by +-lr whatever the gradient's size), and others again from a second engine
  const noisy = { clipNorm: 12, noiseMultiplier: 1 };
  const firstStep = async (dp: typeof noisy) => {
    const engine = await createNativeEngine({ config, seed: 4, device: 'cuda', cudaLibrary: emulated, dp });
    try {
      const losses = await engine.trainStep(batches[0]);
      const state = await engine.getState();
      return { losses, critic: state.tensors.find((x) => x.name === 'critic.out.kernel.adam.m')!.data };
    } finally {
      engine.dispose();
    }
  };
  const first = await firstStep(noisy);
  const second = await firstStep(noisy);
  const clean = await firstStep(clipOnly);
  assert.deepEqual(first.losses.dp, clean.losses.dp, 'noise is added after clipping');
  assert.notDeepEqual(first.critic, clean.critic, 'the noise moved the critic');
  assert.notDeepEqual(first.critic, second.critic, 'each engine draws fresh noise from the OS');
});

test('one batch object for every critic step (as the training loop passes it) trains exactly like equal copies, on the CPU and the emulated CUDA engine', async () => {
  // the binding copies such a batch once and the CUDA core uploads it once (a device-to-device copy for
  // the later critic steps): the result must not depend on it
  const twoSteps = tinyConfig({ criticSteps: 2 }, tinyLayout(true, true));
  const copyOf = (b: ReturnType<typeof randomBatch>) => ({
    size: b.size,
    attributes: b.attributes.slice(),
    additionalAttributes: b.additionalAttributes.slice(),
    features: b.features.slice(),
  });
  for (const device of ['cpu', 'cuda'] as const) {
    const create = () => createNativeEngine({ config: twoSteps, seed: 8, device, threads: 2, cudaLibrary: emulated });
    const shared = await create();
    const copies = await create();
    try {
      for (let it = 0; it < 3; it++) {
        const batch = randomBatch(twoSteps, 12, new Rng(500 + it, 3));
        assert.deepEqual(await shared.trainStep([batch, batch]), await copies.trainStep([batch, copyOf(batch)]), `${device}, iteration ${it + 1}`);
      }
      assert.deepEqual(await shared.getState(), await copies.getState(), `${device}: the same state`);
    } finally {
      shared.dispose();
      copies.dispose();
    }
  }
});

test('a training set held by the CUDA engine: training on its rows equals training on the same rows as batches, through the loop too (CPU stand-in and emulated GPU)', async () => {
  make('cuda-fake');
  const twoSteps = tinyConfig({ criticSteps: 2 }, tinyLayout(true, true));
  const all = randomBatch(twoSteps, 29, new Rng(61, 3));
  const data: EncodedDataset = { ...all, layout: twoSteps.layout, n: all.size, lengths: new Int32Array(all.size), ids: [] };
  const plan: TrainingPlan = { seed: 5, batchSize: 8, iterationsPerEpoch: 3, totalIterations: 7, checkpointEvery: 100, engine: 'cuda' };

  const cpu = await createNativeEngine({ config: twoSteps, seed: 2, device: 'cpu', threads: 2 });
  assert.equal(cpu.holdTrainingData, undefined, 'the CPU engine reads batches in place');
  cpu.dispose();

  for (const library of [path.join(nativeDir, 'out/libdg_cuda_fake.so'), emulated]) {
    const create = () => createNativeEngine({ config: twoSteps, seed: 2, device: 'cuda', cudaLibrary: library });
    const held = await create();
    const batches = await create();
    try {
      await assert.rejects(held.trainStepOnRows!([new Int32Array(8), new Int32Array(8)]), /no training set is held/);
      await held.holdTrainingData!(all);
      const sampler = createBatchSampler(data, plan);
      for (let it = 0; it < 3; it++) {
        const rows = sampler.rowsAt(it);
        const lr = await held.trainStepOnRows!([rows, rows]);
        const batch = sampler.batchAt(it);
        assert.deepEqual(lr, await batches.trainStep([batch, batch]), `${library}: iteration ${it + 1}`);
      }
      assert.deepEqual(await held.getState(), await batches.getState(), `${library}: the same state`);
      await assert.rejects(held.trainStepOnRows!([Int32Array.of(0, 1, 29), Int32Array.of(0, 1, 2)]), /critic step 0, batch row 2: row 29 is outside the held training set \(0\.\.28\)/);
      await assert.rejects(held.trainStepOnRows!([new Int32Array(8), new Int32Array(7)]), /rows\[1\] must be an Int32Array of row numbers as long as rows\[0\]/);
    } finally {
      held.dispose();
      batches.dispose();
    }
  }

  // the loop hands the training set over and trains on rows; hiding the two methods makes it send batches
  const loopState = async (hideRows: boolean) => {
    const engine = await createNativeEngine({ config: twoSteps, seed: 4, device: 'cuda', cudaLibrary: emulated });
    try {
      const loopEngine: Engine = hideRows ? { ...engine, holdTrainingData: undefined, trainStepOnRows: undefined } : engine;
      let held = false;
      const original = engine.holdTrainingData!;
      if (!hideRows) {
        loopEngine.holdTrainingData = async (set) => {
          held = true;
          return original(set);
        };
      }
      await runLoop({ engine: loopEngine, data, plan, startIteration: 0, onCheckpoint: () => {} });
      assert.equal(held, !hideRows);
      return await engine.getState();
    } finally {
      engine.dispose();
    }
  };
  const onBatches = await loopState(true);
  assert.deepEqual(await loopState(false), onBatches, 'the loop on rows trains exactly as on batches');

  // a GPU without room for the training set: the loop says so and sends batches
  process.env.EMU_FREE_MEMORY = '2000';
  const engine = await createNativeEngine({ config: twoSteps, seed: 4, device: 'cuda', cudaLibrary: emulated });
  try {
    await assert.rejects(engine.holdTrainingData!(all), /the training set \(29 series, 0\.\d MB\) would take more than half of the GPU's free memory \(0\.0 MB\)/);
    const notices: string[] = [];
    await runLoop({ engine, data, plan, startIteration: 0, onCheckpoint: () => {}, onNotice: (m) => notices.push(m) });
    assert.equal(notices.length, 1);
    assert.match(notices[0], /^the engine could not hold the training set \(the training set .* would take more than half of the GPU's free memory .*\): sending it a batch per iteration$/);
    assert.deepEqual(await engine.getState(), onBatches, 'then it trains on batches, as before');
  } finally {
    delete process.env.EMU_FREE_MEMORY;
    engine.dispose();
  }
});
