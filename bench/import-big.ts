/**
 * Import at scale: a seeded long-format CSV of a given size (id, step, 2 float features, 3 categorical
 * attributes; 2,000 steps per series, as in issue 15's 1.25 GB case), then `dg inspect` and a full
 * `readDataset` of it, each in its own process, timed with peak RSS.
 *
 *   node --import tsx bench/import-big.ts --gb 0.1 [--gb 1] [--keep] [--only inspect|read]
 *
 * The file goes to /tmp/dg-import-<size>.csv (reused when present with the same size). Peak RSS is
 * /usr/bin/time -v's when present, else the child's process.resourceUsage().maxRSS.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const STEPS = 2000;
const ISPS = ['Comcast', 'AT&T', 'Verizon', 'Charter', 'Cox', 'Frontier', 'CenturyLink', 'Windstream', 'Mediacom', 'Optimum', 'Hughes', 'Viasat'];
const TECHS = ['cable', 'dsl', 'fiber', 'satellite'];
const STATES = 'AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY'.split(' ');

/** mulberry32: a small seeded generator, so every run writes the same file. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Write whole series until the file reaches `bytes`. */
async function generate(file: string, bytes: number): Promise<void> {
  const random = rng(15);
  const out = fs.createWriteStream(file);
  const write = (s: string) => (out.write(s) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
  let written = 0;
  let header = 'id,step,traffic,latency,isp,technology,state\n';
  await write(header);
  written += header.length;
  header = '';
  for (let s = 0; written < bytes; s++) {
    const id = `s${s}`;
    const attrs = `${ISPS[Math.floor(random() * ISPS.length)]},${TECHS[Math.floor(random() * TECHS.length)]},${STATES[Math.floor(random() * STATES.length)]}`;
    let traffic = random();
    let latency = 10 + random() * 40;
    const lines: string[] = [];
    for (let t = 0; t < STEPS; t++) {
      traffic = Math.abs(traffic + (random() - 0.5) * 0.05);
      latency = Math.max(1, latency + (random() - 0.5) * 2);
      lines.push(`${id},${t},${traffic.toFixed(6)},${latency.toFixed(2)},${attrs}`);
    }
    const text = `${lines.join('\n')}\n`;
    await write(text);
    written += text.length;
  }
  await new Promise<void>((r) => out.end(() => r()));
}

interface Measure {
  seconds: number;
  /** User + system CPU seconds: steadier than wall time on a shared machine. */
  cpu: number;
  rssMb: number;
  ok: boolean;
  tail: string;
}

/** Run `node args` under /usr/bin/time -v when present: wall time and peak RSS of that process. */
function measure(args: string[]): Measure {
  const timeV = fs.existsSync('/usr/bin/time');
  const t0 = process.hrtime.bigint();
  const r = timeV
    ? spawnSync('/usr/bin/time', ['-v', process.execPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 })
    : spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  let rssMb = Number.NaN;
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  if (m) rssMb = Number(m[1]) / 1024;
  const user = Number(/User time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1] ?? Number.NaN);
  const sys = Number(/System time \(seconds\): ([\d.]+)/.exec(r.stderr)?.[1] ?? Number.NaN);
  const child = /maxRSS=(\d+)/.exec(r.stdout);
  if (!m && child) rssMb = Number(child[1]) / 1024;
  return { seconds, cpu: user + sys, rssMb, ok: r.status === 0, tail: `${r.stdout}\n${r.stderr}`.slice(-1500) };
}

async function child(file: string): Promise<void> {
  const { readDataset } = await import('../core/data/index.ts');
  const { dataset, report } = await readDataset(file);
  process.stdout.write(`series=${dataset.series.length} rows=${report.rows} maxRSS=${process.resourceUsage().maxRSS}\n`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1]);
  const sizes: number[] = [];
  let only: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--gb') sizes.push(Number(argv[++i]));
    else if (argv[i] === '--only') only = argv[++i];
  }
  if (sizes.length === 0) sizes.push(0.1);
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const self = fileURLToPath(import.meta.url);
  console.log(
    `${new Date().toISOString()} load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  console.log('| file | rows | step | wall | MB/s | CPU (user+sys) | peak RSS | RSS / file |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const gb of sizes) {
    const file = `/tmp/dg-import-${gb}gb.csv`;
    const bytes = Math.round(gb * 1e9);
    if (!fs.existsSync(file) || Math.abs(fs.statSync(file).size - bytes) > 50e6 * Math.max(gb, 0.1)) await generate(file, bytes);
    const size = fs.statSync(file).size;
    const mb = size / 1e6;
    const rows = Math.round(size / 41.3); // approximate; the read step prints the real count
    const steps: [string, string[]][] = [
      ['dg inspect', [path.join(root, 'bin/dg.js'), 'inspect', file]],
      ['readDataset', ['--import', 'tsx', self, '--child', file]],
    ];
    for (const [name, args] of steps) {
      if (only && !name.includes(only)) continue;
      const m = measure(args);
      const realRows = /rows=(\d+)/.exec(m.tail)?.[1] ?? `~${rows}`;
      console.log(
        `| ${mb.toFixed(0)} MB | ${realRows} | ${name} | ${m.seconds.toFixed(1)} s | ${(mb / m.seconds).toFixed(1)} | ${m.cpu.toFixed(1)} s | ${m.rssMb.toFixed(0)} MB | ${(m.rssMb / mb).toFixed(2)} |${m.ok ? '' : ' FAILED'}`,
      );
      if (!m.ok) console.log(m.tail);
    }
  }
  console.log(
    `${new Date().toISOString()} load ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

await main();
