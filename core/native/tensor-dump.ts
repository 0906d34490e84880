/**
 * The tensor dump format of the native core's tests (core/native/README.md): named float32 tensors in
 * one flat little-endian file, so any engine can dump one training iteration and the C test
 * (`core/native/out/test_dg --compare FILE`) can compare the native core against it tensor by tensor.
 *
 * Layout: "DGTD" | u32 version (1) | u32 count | count x { u32 name bytes | name (UTF-8) | u32 ndim |
 * u32 dims[ndim] | float32 data }.
 */
import fs from 'node:fs';
import type { ModelConfig } from '../model/config.ts';
import type { NamedTensor } from '../model/engine.ts';

const MAGIC = 'DGTD';
const VERSION = 1;

export function writeTensorDump(file: string, tensors: NamedTensor[]): void {
  const parts: Buffer[] = [];
  const header = Buffer.alloc(12);
  header.write(MAGIC, 0, 'ascii');
  header.writeUInt32LE(VERSION, 4);
  header.writeUInt32LE(tensors.length, 8);
  parts.push(header);
  for (const t of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new Error(`tensor '${t.name}' has ${t.data.length} values but shape [${t.shape}]`);
    const name = Buffer.from(t.name, 'utf8');
    const meta = Buffer.alloc(4 + name.length + 4 + 4 * t.shape.length);
    meta.writeUInt32LE(name.length, 0);
    name.copy(meta, 4);
    meta.writeUInt32LE(t.shape.length, 4 + name.length);
    t.shape.forEach((d, k) => meta.writeUInt32LE(d, 8 + name.length + 4 * k));
    parts.push(meta, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

export function readTensorDump(file: string): Map<string, NamedTensor> {
  const bytes = fs.readFileSync(file);
  const fail = (why: string): never => {
    throw new Error(`${file}: ${why}`);
  };
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== MAGIC) fail('not a tensor dump (bad magic)');
  if (bytes.readUInt32LE(4) !== VERSION) fail(`unsupported dump version ${bytes.readUInt32LE(4)}`);
  const count = bytes.readUInt32LE(8);
  const out = new Map<string, NamedTensor>();
  let at = 12;
  const need = (n: number) => {
    if (at + n > bytes.length) fail('truncated');
  };
  for (let i = 0; i < count; i++) {
    need(4);
    const nameLength = bytes.readUInt32LE(at);
    need(4 + nameLength + 4);
    const name = bytes.toString('utf8', at + 4, at + 4 + nameLength);
    at += 4 + nameLength;
    const ndim = bytes.readUInt32LE(at);
    at += 4;
    need(4 * ndim);
    const shape = Array.from({ length: ndim }, (_, k) => bytes.readUInt32LE(at + 4 * k));
    at += 4 * ndim;
    const size = shape.reduce((a, b) => a * b, 1);
    need(4 * size);
    const data = new Float32Array(size);
    for (let k = 0; k < size; k++) data[k] = bytes.readFloatLE(at + 4 * k);
    at += 4 * size;
    out.set(name, { name, shape, data });
  }
  return out;
}

const activationCode = { softmax: 0, sigmoid: 1, tanh: 2 } as const;

/** The `config/*` and `seed` tensors that describe a model in a dump (README.md, "Dump contents"). */
export function configTensors(config: ModelConfig, seed: number): NamedTensor[] {
  const scalar = (name: string, v: number): NamedTensor => ({ name: `config/${name}`, shape: [1], data: Float32Array.of(v) });
  const list = (name: string, v: number[]): NamedTensor => ({ name: `config/${name}`, shape: [v.length], data: Float32Array.from(v) });
  const vars = (name: string, v: ModelConfig['layout']['attributes']): NamedTensor => ({
    name: `config/${name}`,
    shape: [v.length, 2],
    data: Float32Array.from(v.flatMap((x) => [x.dim, activationCode[x.activation]])),
  });
  return [
    scalar('maxLength', config.layout.maxLength),
    scalar('sampleLen', config.sampleLen),
    scalar('genFlags', config.layout.genFlags ? 1 : 0),
    vars('attributes', config.layout.attributes),
    vars('additionalAttributes', config.layout.additionalAttributes),
    vars('features', config.layout.features),
    scalar('attributeNoiseDim', config.attributeNoiseDim),
    scalar('minMaxNoiseDim', config.minMaxNoiseDim),
    scalar('featureNoiseDim', config.featureNoiseDim),
    list('attributeHidden', config.attributeHidden),
    list('minMaxHidden', config.minMaxHidden),
    scalar('lstmUnits', config.lstmUnits),
    list('criticHidden', config.criticHidden),
    list('auxCriticHidden', config.auxCriticHidden),
    scalar('auxCriticWeight', config.auxCriticWeight),
    scalar('gradientPenaltyWeight', config.gradientPenaltyWeight),
    scalar('generatorLearningRate', config.generatorLearningRate),
    scalar('criticLearningRate', config.criticLearningRate),
    scalar('auxCriticLearningRate', config.auxCriticLearningRate),
    scalar('adamBeta1', config.adamBeta1),
    scalar('adamBeta2', config.adamBeta2),
    scalar('criticSteps', config.criticSteps),
    scalar('batchNormMomentum', config.batchNormMomentum),
    { name: 'seed', shape: [2], data: Float32Array.of(Math.floor(seed / 65536), seed % 65536) },
  ];
}

/** Counters as the dump stores them: [4, 2] of (value >> 24, value & 0xffffff), exact up to 2^48. */
export function counterTensor(name: string, counters: Record<string, number>): NamedTensor {
  const keys = ['generatorStep', 'criticStep', 'auxCriticStep', 'noisePosition'];
  return { name, shape: [4, 2], data: Float32Array.from(keys.flatMap((k) => [Math.floor(counters[k] / 2 ** 24), counters[k] % 2 ** 24])) };
}
