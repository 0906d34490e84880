/** The built-in broadband demo dataset: deterministic, well-formed, and with the structure it claims. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { demoDataset } from '../core/data/demo.ts';
import { featureRows, stepValues } from '../core/data/feature-column.ts';
import type { Dataset } from '../core/data/types.ts';
import { writeDataset } from '../core/export/index.ts';

const dataset = demoDataset();
const DOWNLOAD = 0;
const LATENCY = 1;
const LOSS = 2;

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function featureValues(data: Dataset, feature: number, keep: (attributes: (string | number)[], hourOfDay: number) => boolean): number[] {
  const out: number[] = [];
  for (const s of data.series) {
    const column = s.features[feature];
    for (let t = 0; t < s.length; t++) if (keep(s.attributes, t % 24)) out.push(column[t] as number);
  }
  return out;
}

test('same seed gives the same data; another seed differs', () => {
  assert.deepEqual(demoDataset({ series: 50, length: 30, seed: 7 }), demoDataset({ series: 50, length: 30, seed: 7 }));
  const a = demoDataset({ series: 50, length: 30, seed: 7 });
  const b = demoDataset({ series: 50, length: 30, seed: 8 });
  assert.notDeepEqual(a.series, b.series);
  assert.deepEqual(demoDataset().series, dataset.series, 'the defaults are seed 1 every time');
});

test('shapes: default 400 lines of 56 hours, options respected, ids unique', () => {
  assert.equal(dataset.series.length, 400);
  for (const s of dataset.series) {
    assert.equal(s.length, 56);
    assert.equal(s.attributes.length, 3);
    assert.deepEqual(
      s.times,
      Array.from({ length: 56 }, (_, t) => t),
    );
    assert.equal(s.features.length, 3);
    for (const column of s.features) assert.ok(column instanceof Float64Array && column.length === 56);
  }
  assert.equal(new Set(dataset.series.map((s) => s.id)).size, 400);
  const small = demoDataset({ series: 3, length: 5 });
  assert.equal(small.series.length, 3);
  assert.ok(small.series.every((s) => s.length === 5 && s.features.every((column) => column.length === 5)));
  assert.equal(small.schema.maxLength, 5);
  assert.throws(() => demoDataset({ series: 0 }), /positive integer/);
  assert.throws(() => demoDataset({ length: 2.5 }), /positive integer/);
});

test('schema: long layout on line_id/hour, column kinds and roles, ranges match the data', () => {
  const { schema } = dataset;
  assert.equal(schema.version, 1);
  assert.deepEqual(schema.layout, { kind: 'long', idColumn: 'line_id', timeColumn: 'hour' });
  assert.equal(schema.maxLength, 56);
  assert.equal(schema.longSeries, 'split');
  assert.equal(schema.missing, 'interpolate');
  assert.deepEqual(
    schema.columns.map((c) => [c.name, c.kind, c.role]),
    [
      ['line_id', 'id', 'id'],
      ['hour', 'time', 'time'],
      ['isp', 'categorical', 'attribute'],
      ['technology', 'categorical', 'attribute'],
      ['region', 'categorical', 'attribute'],
      ['download_mbps', 'continuous', 'feature'],
      ['latency_ms', 'continuous', 'feature'],
      ['packet_loss', 'continuous', 'feature'],
    ],
  );
  assert.deepEqual(
    dataset.attributes.map((c) => c.name),
    ['isp', 'technology', 'region'],
  );
  assert.deepEqual(
    dataset.features.map((c) => c.name),
    ['download_mbps', 'latency_ms', 'packet_loss'],
  );
  assert.deepEqual(dataset.attributes[1].categories, ['Cable', 'DSL', 'Fiber', 'Satellite']);
  assert.ok(dataset.attributes[0].categories!.length >= 4 && dataset.attributes[2].categories!.length >= 5);
  dataset.features.forEach((column, f) => {
    const values = featureValues(dataset, f, () => true);
    assert.equal(column.min, Math.min(...values), `${column.name} min`);
    assert.equal(column.max, Math.max(...values), `${column.name} max`);
  });
});

test('attributes: valid categories, every category used, ISP shares unbalanced', () => {
  const counts = dataset.attributes.map(() => new Map<string, number>());
  for (const s of dataset.series) {
    s.attributes.forEach((value, a) => {
      assert.ok(dataset.attributes[a].categories!.includes(value as string), `${value} is a known ${dataset.attributes[a].name}`);
      counts[a].set(value as string, (counts[a].get(value as string) ?? 0) + 1);
    });
  }
  counts.forEach((c, a) => assert.equal(c.size, dataset.attributes[a].categories!.length, `all ${dataset.attributes[a].name} labels occur`));
  const ispCounts = [...counts[0].values()];
  assert.ok(Math.max(...ispCounts) > 3 * Math.min(...ispCounts), `ISP shares are unbalanced: ${ispCounts}`);
});

test('technology depends on ISP (the attributes are not independent)', () => {
  const satelliteShare = (isp: string) => {
    const lines = dataset.series.filter((s) => s.attributes[0] === isp);
    return lines.filter((s) => s.attributes[1] === 'Satellite').length / lines.length;
  };
  const shares = dataset.attributes[0].categories!.map(satelliteShare);
  assert.ok(Math.max(...shares) - Math.min(...shares) > 0.5, `satellite share varies strongly by ISP: ${shares}`);
});

test('ranges: download >= 0, latency > 0, packet loss in [0, 1] and mostly 0, all finite', () => {
  const download = featureValues(dataset, DOWNLOAD, () => true);
  const latency = featureValues(dataset, LATENCY, () => true);
  const loss = featureValues(dataset, LOSS, () => true);
  assert.ok(download.every((v) => Number.isFinite(v) && v >= 0));
  assert.ok(latency.every((v) => Number.isFinite(v) && v > 0));
  assert.ok(loss.every((v) => v >= 0 && v <= 1));
  const lossFree = loss.filter((v) => v === 0).length / loss.length;
  assert.ok(lossFree > 0.8, `most hours have no loss (${lossFree})`);
  assert.ok(
    loss.some((v) => v > 0.5),
    'outages push loss near 1',
  );
});

test('outages: some hours drop download to about 0', () => {
  const nearZero = dataset.series.filter((s) => featureRows(s).some((step) => (step[DOWNLOAD] as number) < 2 && (step[LOSS] as number) > 0.8));
  assert.ok(nearZero.length >= 5, `${nearZero.length} lines have an outage`);
  assert.ok(nearZero.length < dataset.series.length / 2, 'outages are occasional');
});

test('diurnal cycle: evening download below early morning; latency and loss rise in the evening', () => {
  // Compared within a technology, so the mix of plan speeds does not hide or fake the cycle.
  for (const technology of ['Cable', 'DSL', 'Satellite']) {
    const evening = featureValues(dataset, DOWNLOAD, (a, h) => a[1] === technology && h >= 20 && h <= 22);
    const morning = featureValues(dataset, DOWNLOAD, (a, h) => a[1] === technology && h >= 3 && h <= 5);
    assert.ok(mean(evening) < 0.9 * mean(morning), `${technology}: evening ${mean(evening)} vs morning ${mean(morning)}`);
  }
  const eveningAll = featureValues(dataset, DOWNLOAD, (_, h) => h >= 20 && h <= 22);
  const morningAll = featureValues(dataset, DOWNLOAD, (_, h) => h >= 3 && h <= 5);
  assert.ok(mean(eveningAll) < mean(morningAll));

  const cableLatency = (from: number, to: number) => mean(featureValues(dataset, LATENCY, (a, h) => a[1] === 'Cable' && h >= from && h <= to));
  assert.ok(cableLatency(20, 22) > 1.2 * cableLatency(3, 5), 'latency rises with congestion');
  const lossShare = (from: number, to: number) => {
    const v = featureValues(dataset, LOSS, (_, h) => h >= from && h <= to);
    return v.filter((x) => x > 0).length / v.length;
  };
  assert.ok(lossShare(20, 22) > 2 * lossShare(3, 5), 'loss spikes cluster in the evening');
});

test('congestion depth depends on ISP/technology: Fiber dips less than Cable', () => {
  const dip = (technology: string) =>
    mean(featureValues(dataset, DOWNLOAD, (a, h) => a[1] === technology && h >= 20 && h <= 22)) / mean(featureValues(dataset, DOWNLOAD, (a, h) => a[1] === technology && h >= 3 && h <= 5));
  assert.ok(dip('Fiber') > dip('Cable') + 0.15, `fiber keeps ${dip('Fiber')} of its speed, cable ${dip('Cable')}`);
});

test('technology sets the levels: Fiber > Cable > DSL download, Satellite latency near 600 ms', () => {
  const download = (t: string) => mean(featureValues(dataset, DOWNLOAD, (a) => a[1] === t));
  assert.ok(download('Fiber') > download('Cable') && download('Cable') > download('DSL'), `${download('Fiber')} ${download('Cable')} ${download('DSL')}`);
  assert.ok(download('Fiber') > 5 * download('DSL'));
  const nightLatency = (t: string) => {
    const v = featureValues(dataset, LATENCY, (a, h) => a[1] === t && h >= 2 && h <= 6).sort((x, y) => x - y);
    return v[Math.floor(v.length / 2)];
  };
  assert.ok(nightLatency('Satellite') > 450 && nightLatency('Satellite') < 800, `satellite median ${nightLatency('Satellite')} ms`);
  assert.ok(nightLatency('Fiber') < 40, `fiber median ${nightLatency('Fiber')} ms`);
});

test('writes to CSV with writeDataset using the schema’s id and time columns', async () => {
  const small = demoDataset({ series: 20, length: 10, seed: 3 });
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dg-demo-')), 'demo.csv');
  const result = await writeDataset(small, file);
  assert.deepEqual(result, { file, rows: 200, format: 'csv' });
  const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
  // id, time, then the schema's column order (the demo lists its attributes first)
  assert.equal(lines[0], 'line_id,hour,isp,technology,region,download_mbps,latency_ms,packet_loss');
  assert.equal(lines.length, 201);
  const first = small.series[0];
  assert.equal(lines[1], [first.id, 0, ...first.attributes, ...stepValues(first, 0)].join(','));
});
