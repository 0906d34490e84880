/**
 * The shareable model file (.dgm): what generation needs and nothing else about the training data.
 *
 * It holds the generator's weights (not the critics, which tell training members apart best, and no
 * optimizer state), the model configuration, the public part of the encoder, a default generation seed
 * and, for DP-SGD runs, the (epsilon, delta) the release guarantees. No series ids, no holdout list, no
 * training counts, losses or exposure figures (run.json keeps those; they stay in the run folder).
 *
 * Layout (little-endian):
 *   bytes 0..7   magic "DGMODEL\0"
 *   bytes 8..11  u32 format version (MODEL_FILE_VERSION)
 *   bytes 12..15 u32 header length H in bytes
 *   16..16+H     header: JSON (UTF-8), a `ModelFileHeader`
 *   zero padding to a multiple of 8
 *   data         float32 tensors, each at its `offset` (bytes from the start of the data), row-major
 * The file ends exactly at the end of the last tensor: a longer or shorter file is refused.
 */
import fs from 'node:fs';
import type { EncoderState } from '../encoding/encoder.ts';
import type { ModelConfig } from '../model/config.ts';
import type { Engine, NamedTensor } from '../model/engine.ts';
import { bufferSpecs, parameterSpecs } from '../model/params.ts';
import { writeFileAtomic } from '../util/atomic-file.ts';
import { ApiError } from '../util/errors.ts';
import type { ReleasedAttributes } from './released-attributes.ts';

export const MODEL_FILE_MAGIC = 'DGMODEL\0';
export const MODEL_FILE_FORMAT = 'dg-model';
export const MODEL_FILE_VERSION = 1;
export const MODEL_FILE_EXTENSION = '.dgm';
const PREFIX_BYTES = 16;

/** Where a tensor's values are in the data section. */
export interface ModelTensorEntry {
  name: string;
  shape: number[];
  dtype: 'float32';
  /** Bytes from the start of the data section. */
  offset: number;
  /** Number of values. */
  length: number;
}

/**
 * A released attribute table (core/train/released-attributes.ts: a hidden attribute's distribution) in
 * place of the attribute generator: a file with one leaves the generator's `gen.attr.*` weights out, since
 * they hold the learned marginal the table hides. The run id stays behind with the run folder.
 */
export type AttributeTable = Omit<ReleasedAttributes, 'runId'>;

export interface ModelFileHeader {
  format: typeof MODEL_FILE_FORMAT;
  version: number;
  createdAt: string;
  /** The app version that wrote it. */
  writtenBy?: string;
  model: ModelConfig;
  /** The public encoder (see publicEncoder in core/api/model-export.ts). */
  encoder: EncoderState;
  /** The seed generation uses when none is given (the run folder's default: its training seed + 1). */
  defaultSeed: number;
  /** DP-SGD runs: the guarantee of the released weights, (epsilon, delta); absent without DP. */
  privacy?: { epsilon: number; delta: number };
  /** Generator parameters and batch-norm statistics, in params.ts's order. */
  tensors: ModelTensorEntry[];
  /** Attributes drawn from this table instead of the attribute generator (whose weights the file leaves out). */
  attributeTable?: AttributeTable;
}

export interface ModelFile {
  header: ModelFileHeader;
  tensors: NamedTensor[];
}

/** The names (in canonical order) of what generation needs: generator parameters, then batch-norm statistics. */
/** The attribute generator's tensors: left out of a model file that carries an attribute table. */
const isAttributeGenerator = (name: string) => name.startsWith('gen.attr.');

export function generatorTensorNames(config: ModelConfig, options: { attributeTable?: boolean } = {}): string[] {
  const names = [...parameterSpecs(config).filter((s) => s.network === 'generator'), ...bufferSpecs(config)].map((s) => s.name);
  return options.attributeTable ? names.filter((name) => !isAttributeGenerator(name)) : names;
}

/** The generator's tensors out of a full engine state, in canonical order. */
export function generatorTensors(config: ModelConfig, all: NamedTensor[], options: { attributeTable?: boolean } = {}): NamedTensor[] {
  const byName = new Map(all.map((t) => [t.name, t]));
  return generatorTensorNames(config, options).map((name) => {
    const t = byName.get(name);
    if (!t) throw new ApiError('data_error', `the model has no tensor ${name}: the checkpoint is damaged or from another build`);
    return t;
  });
}

const padding = (n: number) => (8 - (n % 8)) % 8;

export function writeModelFile(file: string, header: Omit<ModelFileHeader, 'tensors' | 'format' | 'version'>, tensors: NamedTensor[]): void {
  let offset = 0;
  const entries: ModelTensorEntry[] = tensors.map((t) => {
    const length = t.shape.reduce((a, b) => a * b, 1);
    if (length !== t.data.length) throw new Error(`tensor ${t.name} has ${t.data.length} values but shape [${t.shape}] needs ${length}`);
    const entry: ModelTensorEntry = { name: t.name, shape: t.shape, dtype: 'float32', offset, length };
    offset += length * 4;
    return entry;
  });
  const full: ModelFileHeader = { format: MODEL_FILE_FORMAT, version: MODEL_FILE_VERSION, ...header, tensors: entries };
  const json = Buffer.from(JSON.stringify(full), 'utf8');
  const prefix = Buffer.alloc(PREFIX_BYTES);
  prefix.write(MODEL_FILE_MAGIC, 0, 'latin1');
  prefix.writeUInt32LE(MODEL_FILE_VERSION, 8);
  prefix.writeUInt32LE(json.length, 12);
  const pad = Buffer.alloc(padding(PREFIX_BYTES + json.length));
  // float32 little-endian, whatever the machine's byte order
  const bodies = tensors.map((t) => {
    const out = Buffer.alloc(t.data.length * 4);
    for (let i = 0; i < t.data.length; i++) out.writeFloatLE(t.data[i], i * 4);
    return out;
  });
  writeFileAtomic(file, [prefix, json, pad, ...bodies]);
}

function damaged(file: string, why: string, hint = 'export the model again from its run (dg export-model RUN_DIR --out FILE.dgm)'): ApiError {
  return new ApiError('data_error', `${file} is not a usable model file: ${why}`, { where: { file }, hint: { text: hint } });
}

/** Reads and checks a model file: magic, version, header, every tensor's name, shape and place; clear errors naming the file. */
export function readModelFile(file: string): ModelFile {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ApiError('not_found', `no model file at ${file}`, { where: { file } });
    if (code === 'EISDIR') throw new ApiError('invalid_argument', `${file} is a folder, not a model file`, { where: { file } });
    throw error;
  }
  if (!MODEL_FILE_MAGIC.startsWith(bytes.toString('latin1', 0, Math.min(8, bytes.length)))) {
    throw damaged(file, 'it does not start with the model file magic (it is not a .dgm file)', 'give a file written by dg export-model');
  }
  if (bytes.length < PREFIX_BYTES) throw damaged(file, bytes.length === 0 ? 'it is empty' : 'it is truncated (it ends inside its first 16 bytes)');
  const version = bytes.readUInt32LE(8);
  if (version > MODEL_FILE_VERSION) {
    throw new ApiError('unsupported', `${file} is model file version ${version}, written by a newer version of the app; this build reads version ${MODEL_FILE_VERSION}`, {
      where: { file },
      hint: { text: 'update the app to read it' },
    });
  }
  if (version < 1) throw damaged(file, `its format version ${version} is not one this app ever wrote`);
  const headerLength = bytes.readUInt32LE(12);
  if (PREFIX_BYTES + headerLength > bytes.length) throw damaged(file, 'it is truncated (the header runs past the end)');
  let header: ModelFileHeader;
  try {
    header = JSON.parse(bytes.toString('utf8', PREFIX_BYTES, PREFIX_BYTES + headerLength)) as ModelFileHeader;
  } catch (error) {
    throw damaged(file, `its header is not valid JSON (${(error as Error).message})`);
  }
  if (header?.format !== MODEL_FILE_FORMAT || header.version !== version) throw damaged(file, 'its header does not describe a model file');
  if (!header.model?.layout || !header.encoder?.layout || !Array.isArray(header.tensors)) throw damaged(file, 'its header lacks the model, the encoder or the tensor index');
  if (header.attributeTable !== undefined && (header.attributeTable?.format !== 'dg-released-attributes' || !Array.isArray(header.attributeTable.rows) || header.attributeTable.rows.length === 0))
    throw damaged(file, 'its attribute table is not one');
  const start = PREFIX_BYTES + headerLength + padding(PREFIX_BYTES + headerLength);
  const expected = generatorTensorNames(header.model, { attributeTable: header.attributeTable !== undefined });
  const specs = new Map([...parameterSpecs(header.model), ...bufferSpecs(header.model)].map((s) => [s.name, s.shape.join()]));
  if (header.tensors.length !== expected.length || header.tensors.some((t, i) => t.name !== expected[i]))
    throw damaged(file, `its tensors (${header.tensors.map((t) => t.name).join(', ')}) are not the generator's of its model configuration`);
  let end = start;
  const tensors = header.tensors.map((e) => {
    const length = e.shape.reduce((a, b) => a * b, 1);
    if (e.dtype !== 'float32' || e.length !== length || e.shape.join() !== specs.get(e.name)) throw damaged(file, `tensor ${e.name} has shape [${e.shape}], not the model's [${specs.get(e.name)}]`);
    const begin = start + e.offset;
    if (!Number.isInteger(e.offset) || e.offset < 0 || begin + length * 4 > bytes.length) throw damaged(file, `it is truncated (tensor ${e.name} runs past the end)`);
    const data = new Float32Array(length);
    for (let i = 0; i < length; i++) data[i] = bytes.readFloatLE(begin + i * 4);
    end = Math.max(end, begin + length * 4);
    return { name: e.name, shape: e.shape, data };
  });
  if (end !== bytes.length) throw damaged(file, `it has ${bytes.length - end} bytes after its last tensor`);
  return { header, tensors };
}

/**
 * Puts generator weights into an engine created with the model's configuration and the generation seed:
 * the engine's own (fresh) critics and zeroed optimizer state stay, the noise stream starts at 0.
 */
export async function loadGenerator(engine: Engine, tensors: NamedTensor[]): Promise<void> {
  const state = await engine.getState();
  const given = new Map(tensors.map((t) => [t.name, t]));
  await engine.setState({
    tensors: state.tensors.map((t) => given.get(t.name) ?? t),
    counters: { ...state.counters, generatorStep: 0, criticStep: 0, auxCriticStep: 0, noisePosition: 0 },
  });
}
