import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineState } from '../core/model/engine.ts';
import { AVERAGE_DECAY, engineStateOf, GeneratorAverage, generationState } from '../core/train/generator-average.ts';

const state = (value: number): EngineState => ({
  tensors: [
    { name: 'gen.feat.out.bias', shape: [2], data: Float32Array.of(value, 2 * value) },
    { name: 'gen.feat.out.bias.adam.m', shape: [2], data: Float32Array.of(value, value) },
    { name: 'disc.out.bias', shape: [1], data: Float32Array.of(value) },
  ],
  counters: { generatorStep: 1, criticStep: 1, auxCriticStep: 1, noisePosition: 7 },
});
const named = (s: EngineState, name: string) => Array.from(s.tensors.find((t) => t.name === name)!.data);

test('generator average: an EMA of the generator weights with a warm-up, not of Adam moments or critics', () => {
  const average = new GeneratorAverage();
  average.update(state(1)); // the first update copies
  average.update(state(11)); // decay (1 + 1) / (10 + 1) = 2/11: 2/11 * 1 + 9/11 * 11 = 9.18...
  const kept = average.attachTo(state(11));
  const expected = (2 / 11) * 1 + (9 / 11) * 11;
  assert.ok(Math.abs(named(kept, 'avg.gen.feat.out.bias')[0] - expected) < 1e-5);
  assert.ok(Math.abs(named(kept, 'avg.gen.feat.out.bias')[1] - 2 * expected) < 1e-4);
  assert.deepEqual(
    kept.tensors.map((t) => t.name),
    ['gen.feat.out.bias', 'gen.feat.out.bias.adam.m', 'disc.out.bias', 'avg.gen.feat.out.bias'],
  );
  assert.equal(kept.counters.averageUpdates, 2);
  // after the warm-up the decay is AVERAGE_DECAY
  for (let k = 0; k < 1000; k++) average.update(state(0));
  const before = named(average.attachTo(state(0)), 'avg.gen.feat.out.bias')[0];
  average.update(state(100));
  const after = named(average.attachTo(state(0)), 'avg.gen.feat.out.bias')[0];
  assert.ok(Math.abs(after - (AVERAGE_DECAY * before + (1 - AVERAGE_DECAY) * 100)) < 1e-4);
});

test('generator average: continued from a checkpoint; generation reads it, the engine gets its own state', () => {
  const first = new GeneratorAverage();
  first.update(state(1));
  first.update(state(3));
  const saved = first.attachTo(state(3));
  const resumed = GeneratorAverage.from(saved);
  first.update(state(5));
  resumed.update(state(5));
  assert.deepEqual(first.attachTo(state(5)), resumed.attachTo(state(5)), 'a resumed average continues exactly');

  const generating = generationState(saved);
  assert.deepEqual(
    generating.tensors.map((t) => t.name),
    ['gen.feat.out.bias', 'gen.feat.out.bias.adam.m', 'disc.out.bias'],
  );
  assert.deepEqual(named(generating, 'gen.feat.out.bias'), named(saved, 'avg.gen.feat.out.bias'), 'the average in place of the raw weights');
  assert.deepEqual(named(generating, 'disc.out.bias'), [3]);
  assert.deepEqual(named(engineStateOf(saved), 'gen.feat.out.bias'), [3, 6], 'the raw weights for the engine');
  assert.ok(!engineStateOf(saved).tensors.some((t) => t.name.startsWith('avg.')));
  // a checkpoint from before the average generates from its raw weights
  assert.deepEqual(generationState(state(4)), state(4));
});
