/**
 * The built-in demo dataset: a simulator of hourly broadband measurements per subscriber line, so the
 * tool can be tried (and tested end to end) without real data. Everything random comes from one seeded
 * Rng stream, so a seed always gives the same dataset.
 *
 * What it models, so the synthetic copy has something real to learn:
 * - attributes that depend on each other (which technologies an ISP sells) and drive the features;
 * - a diurnal cycle: an evening congestion dip in download, whose depth depends on ISP and technology,
 *   with latency rising and packet-loss spikes at the same time;
 * - rare outages of a few hours, where download drops to about 0 and loss goes to about 1.
 */
import { Rng } from '../util/rng.ts';
import type { ColumnSchema, Dataset, Schema, Series } from './types.ts';

export interface DemoOptions {
  /** Number of subscriber lines (series). Default 400. */
  series?: number;
  /** Hours per line. Default 56. */
  length?: number;
  /** Default 1. */
  seed?: number;
}

interface Isp {
  name: string;
  share: number;
  /** Weights over TECHNOLOGIES: what this ISP sells. */
  technologyMix: number[];
  /** Multiplies the technology's congestion depth: an oversold network dips more in the evening. */
  congestion: number;
}

interface Technology {
  name: string;
  /** Median plan speed (Mbps); lines spread log-normally around it. */
  downloadMbps: number;
  /** Median idle latency (ms). */
  latencyMs: number;
  /** Evening download dip at peak congestion, as a fraction of the line's speed. */
  congestionDepth: number;
  /** Chance per hour that an outage starts. */
  outagePerHour: number;
}

const TECHNOLOGIES: Technology[] = [
  { name: 'Cable', downloadMbps: 250, latencyMs: 18, congestionDepth: 0.35, outagePerHour: 0.003 },
  { name: 'DSL', downloadMbps: 30, latencyMs: 32, congestionDepth: 0.2, outagePerHour: 0.004 },
  { name: 'Fiber', downloadMbps: 600, latencyMs: 8, congestionDepth: 0.08, outagePerHour: 0.0015 },
  { name: 'Satellite', downloadMbps: 25, latencyMs: 600, congestionDepth: 0.4, outagePerHour: 0.008 },
];

//                                        Cable  DSL   Fiber Satellite
const ISPS: Isp[] = [
  { name: 'Northwind Broadband', share: 0.38, technologyMix: [0.7, 0.1, 0.15, 0.05], congestion: 1.3 },
  { name: 'Bluefin Net', share: 0.24, technologyMix: [0.2, 0.5, 0.25, 0.05], congestion: 1.0 },
  { name: 'Copperline', share: 0.17, technologyMix: [0, 0.75, 0.2, 0.05], congestion: 0.8 },
  { name: 'Skyreach', share: 0.13, technologyMix: [0, 0.15, 0.05, 0.8], congestion: 1.2 },
  { name: 'Meridian Fiber', share: 0.08, technologyMix: [0.1, 0.05, 0.85, 0], congestion: 0.6 },
];

const REGIONS = ['North', 'South', 'East', 'West', 'Central', 'Coastal'];
const REGION_SHARES = [0.22, 0.2, 0.18, 0.16, 0.14, 0.1];
/** Extra latency (ms) from distance to the exchange points. */
const REGION_LATENCY_MS = [4, 6, 2, 5, 0, 9];

/** Hour of day when the evening peak is highest, and how wide it is (hours). */
const PEAK_HOUR = 21;
const PEAK_WIDTH = 2.5;

function pick(rng: Rng, weights: number[]): number {
  let total = 0;
  for (const w of weights) total += w;
  let u = rng.uniform() * total;
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i];
    if (u < 0 && weights[i] > 0) return i;
  }
  // Rounding can leave u at about 0 after the last weight: take the last category that has weight.
  for (let i = weights.length - 1; i >= 0; i--) if (weights[i] > 0) return i;
  throw new Error('pick needs a positive weight');
}

/** Network load at an hour of day, 0 (night) to 1 (evening peak): a bump around PEAK_HOUR on the 24 h circle. */
export function congestionAt(hourOfDay: number): number {
  const raw = Math.abs(hourOfDay - PEAK_HOUR) % 24;
  const distance = Math.min(raw, 24 - raw);
  return Math.exp(-(distance * distance) / (2 * PEAK_WIDTH * PEAK_WIDTH));
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

function simulateLine(rng: Rng, index: number, length: number, idWidth: number): Series {
  const ispIndex = pick(
    rng,
    ISPS.map((isp) => isp.share),
  );
  const isp = ISPS[ispIndex];
  const technology = TECHNOLOGIES[pick(rng, isp.technologyMix)];
  const regionIndex = pick(rng, REGION_SHARES);

  // Per-line character: plan speed and how far the line is from the exchange.
  const planMbps = technology.downloadMbps * Math.exp(0.35 * rng.normal());
  const idleLatencyMs = technology.latencyMs * Math.exp(0.2 * rng.normal()) + REGION_LATENCY_MS[regionIndex];
  const depth = Math.min(0.9, technology.congestionDepth * isp.congestion);

  const downloads = new Float64Array(length);
  const latencies = new Float64Array(length);
  const losses = new Float64Array(length);
  const times: number[] = [];
  let outageHoursLeft = 0;
  let dayFactor = 1;
  for (let t = 0; t < length; t++) {
    const hourOfDay = t % 24;
    // Some evenings are busier than others.
    if (hourOfDay === 0 || t === 0) dayFactor = Math.exp(0.25 * rng.normal());
    if (outageHoursLeft === 0 && rng.uniform() < technology.outagePerHour) outageHoursLeft = 1 + rng.int(6);

    let download: number;
    let latency: number;
    let loss: number;
    if (outageHoursLeft > 0) {
      outageHoursLeft--;
      download = planMbps * 0.002 * rng.uniform();
      latency = idleLatencyMs * 4 + 1000 * rng.uniform();
      loss = 0.85 + 0.15 * rng.uniform();
    } else {
      const load = Math.min(1, depth * congestionAt(hourOfDay) * dayFactor);
      download = planMbps * (1 - load) * Math.exp(0.08 * rng.normal());
      latency = idleLatencyMs * (1 + 1.5 * load) * Math.exp(0.05 * rng.normal()) + 2 * Math.abs(rng.normal());
      // Loss is zero most hours; spikes come with load (and satellite links are lossy anyway).
      const spikeChance = 0.01 + 0.6 * load + (technology.name === 'Satellite' ? 0.05 : 0);
      loss = rng.uniform() < spikeChance ? Math.min(1, 0.002 + 0.03 * -Math.log(rng.uniform())) : 0;
    }
    downloads[t] = round(Math.max(0, download), 2);
    latencies[t] = round(latency, 1);
    losses[t] = round(loss, 4);
    times.push(t);
  }

  return {
    id: `line-${String(index + 1).padStart(idWidth, '0')}`,
    attributes: [isp.name, technology.name, REGIONS[regionIndex]],
    length,
    features: [downloads, latencies, losses],
    times,
  };
}

function continuousRange(series: Series[], feature: number): { min: number; max: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const s of series) {
    for (const v of s.features[feature] as Float64Array) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  return { min, max };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new Error(`demo ${name} must be a positive integer, got ${value}`);
  return value;
}

export function demoDataset(options: DemoOptions = {}): Dataset {
  const count = positiveInteger(options.series ?? 400, 'series');
  const length = positiveInteger(options.length ?? 56, 'length');
  const rng = new Rng(options.seed ?? 1);

  const idWidth = String(count).length;
  const series: Series[] = [];
  for (let i = 0; i < count; i++) series.push(simulateLine(rng, i, length, idWidth));

  const attributes: ColumnSchema[] = [
    { name: 'isp', kind: 'categorical', role: 'attribute', categories: ISPS.map((isp) => isp.name) },
    { name: 'technology', kind: 'categorical', role: 'attribute', categories: TECHNOLOGIES.map((t) => t.name) },
    { name: 'region', kind: 'categorical', role: 'attribute', categories: [...REGIONS] },
  ];
  const features: ColumnSchema[] = ['download_mbps', 'latency_ms', 'packet_loss'].map((name, f) => ({
    name,
    kind: 'continuous',
    role: 'feature',
    ...continuousRange(series, f),
  }));
  const schema: Schema = {
    version: 1,
    layout: { kind: 'long', idColumn: 'line_id', timeColumn: 'hour' },
    columns: [{ name: 'line_id', kind: 'id', role: 'id' }, { name: 'hour', kind: 'time', role: 'time' }, ...attributes, ...features],
    maxLength: length,
    longSeries: 'split',
    missing: 'interpolate',
  };
  return { schema, attributes, features, series };
}
