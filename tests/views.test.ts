/**
 * The result screens' view models (core/api/views.ts) on a real evaluation: a short native training on
 * 120 demo series, generated and evaluated through the service; then the recommendation's rules on
 * variations of that real review (copies, exposure, a DP bound).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createApiHost } from '../core/api/host.ts';
import { chartsView, compareView, dossierSection, fidelityView, privacyView, runSettingsView, sharingRecommendation } from '../core/api/views.ts';
import { demoDataset } from '../core/data/demo.ts';
import type { Metrics } from '../core/eval/metrics.ts';
import { headlines, summarize } from '../core/eval/summary.ts';
import { writeDataset } from '../core/export/index.ts';
import type { PrivacyReview } from '../core/privacy/review.ts';
import { runDatasets } from '../core/train/run-folder.ts';
import { readLike } from '../core/api/evaluate.ts';
import type { Dataset } from '../core/data/types.ts';

let metrics: Metrics;
let review: PrivacyReview;
let data: { real: Dataset; synthetic: Dataset; holdout?: Dataset };
let run: { settings: unknown; plan: unknown; summary: unknown; engine: string | null };

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dg-views-'));
  const csv = path.join(dir, 'lines.csv');
  await writeDataset(demoDataset({ series: 120, length: 24, seed: 3 }), csv);
  const host = await createApiHost({ storeDir: path.join(dir, 'store') });
  try {
    const call = async <T = { id: string }>(method: string, args: unknown): Promise<T> => {
      const outcome = await host.call(method, args);
      assert.ok(outcome.ok, `${method}: ${JSON.stringify(!outcome.ok && outcome.error)}`);
      return outcome.result as T;
    };
    const project = await call('projects.create', { name: 'views' });
    const imported = await call<{ dataset: { id: string } }>('datasets.import', { projectId: project.id, path: csv, read: { idColumn: 'line_id', timeColumn: 'hour' } });
    const started = await call('runs.start', { datasetId: imported.dataset.id, settings: { iterations: 120, batchSize: 30, engine: 'native', holdoutFraction: 0.25 } });
    const done = await host.service.waitForRun(started.id);
    assert.equal(done.status, 'complete');
    run = done;
    const synthetic = await call<{ id: string; file: string }>('runs.generate', { runId: done.id, n: 90 });
    const evaluation = await call<{ evaluation: { id: string; dir: string } }>('evaluations.create', { syntheticId: synthetic.id });
    const folder = host.service.store.resolve(project.id, evaluation.evaluation.dir);
    metrics = JSON.parse(fs.readFileSync(path.join(folder, 'metrics.json'), 'utf8'));
    review = JSON.parse(fs.readFileSync(path.join(folder, 'privacy.json'), 'utf8'));
    const { train, holdout } = runDatasets(host.service.store.resolve(project.id, done.runDir));
    data = { real: train, holdout, synthetic: await readLike(host.service.store.resolve(project.id, synthetic.file), {}, train) };
  } finally {
    await host.close();
  }
});

test('fidelity: the paragraph and the verdicts are summary.ts own, with the yardstick and thresholds as text', () => {
  const view = fidelityView(metrics);
  assert.equal(view.verdict, summarize(metrics));
  // the parts make the paragraph: the uses' sentence names each use after its words, then the details
  const firstSentence = view.verdict.slice(0, view.verdict.length - view.details.length - 1);
  assert.match(firstSentence, /^This synthetic data is .*\.$/);
  for (const u of view.uses) assert.ok(firstSentence.includes(`${u.words} `) && firstSentence.includes(u.use), u.use);
  const order = ['faithful', 'approximate', 'unfaithful'];
  assert.deepEqual(
    view.uses.map((u) => order.indexOf(u.verdict)),
    view.uses.map((u) => order.indexOf(u.verdict)).sort((a, b) => a - b),
    'best first',
  );
  const rows = headlines(metrics);
  assert.deepEqual(
    view.headlines.map((h) => [h.key, h.verdict, h.value]),
    rows.map((r) => [r.key, r.verdict, r.value]),
  );
  const acf = view.headlines.find((h) => h.key === 'acfRelativeGap')!;
  assert.match(acf.yardstickText, /^holdout \d/);
  assert.match(acf.thresholdText, /faithful at or below 0\.2, unfaithful above 0\.5/);
  assert.match(view.headlines.find((h) => h.key === 'dependenceGap')!.yardstickText, /^sampling noise/);
  assert.equal(view.counts.faithful + view.counts.approximate + view.counts.unfaithful, view.aspects.length);
  assert.equal(view.sizes.holdout, 30);
});

test('charts: autocorrelation, value and attribute distributions, dependence and sample series from the real data', () => {
  const charts = chartsView(metrics, data);
  const features = metrics.columns.continuousFeatures;
  assert.deepEqual(
    charts.autocorrelation.map((c) => c.feature),
    features,
  );
  assert.deepEqual(
    charts.autocorrelation[0].lines.map((l) => l.name),
    ['real', 'synthetic', 'holdout'],
  );
  assert.equal(charts.autocorrelation[0].lags.length, metrics.synthetic.autocorrelation.maxLag);
  for (const v of charts.values) {
    assert.equal(v.bins.length, 40);
    for (const line of v.lines) assert.ok(Math.abs((line.data as number[]).reduce((a, b) => a + b, 0) - 1) < 1e-3, `${v.feature} ${line.name} shares sum to 1`);
  }
  assert.deepEqual(
    charts.attributes.map((a) => a.attribute),
    metrics.columns.categoricalAttributes,
  );
  const isp = charts.attributes[0];
  // real shares are the real data's own
  const labels = data.real.series.map((s) => String(s.attributes[0]));
  assert.ok(Math.abs((isp.lines[0].data[0] as number) - labels.filter((l) => l === isp.categories[0]).length / labels.length) < 1e-3);
  assert.equal(charts.dependence.length, metrics.synthetic.dependence.entries.length);
  assert.match(charts.dependence[0].gapText, /standard deviations/);
  assert.equal(charts.samples.length, features.length);
  assert.equal(charts.samples[0].real.length, 3);
  assert.equal(charts.samples[0].synthetic[0].values.length, 24);
  assert.ok(charts.samples[0].range[1] > charts.samples[0].range[0]);
});

test('privacy: each attack in words, the closest-record range, and a recommendation that rests on the review', () => {
  const view = privacyView(review);
  assert.equal(view.attacks.length, review.attacks.length);
  assert.ok(view.attacks.length >= 2);
  for (const a of view.attacks) {
    assert.match(a.aucText, /^\d\.\d\d \[\d\.\d\d, \d\.\d\d\]$/);
    assert.ok(review.statements.includes(a.sentence), 'the sentence is the review’s own');
    assert.match(a.lowFprText, /of members found while flagging at most/);
  }
  assert.ok(view.closestRecord && /random/.test(view.closestRecord.text));
  assert.deepEqual(view.statements, review.statements);
  assert.equal(view.dp, null);
  const rec = view.recommendation;
  // no DP: never public, and the reason says why
  assert.notEqual(rec.level, 'public');
  assert.ok(rec.reasons.some((r) => r.effect === 'limits' && /Without DP-SGD/.test(r.text)));
  assert.ok(rec.toWiden.some((t) => /epsilon 1-3/.test(t)));
  // limiting reasons come first
  const firstSupport = rec.reasons.findIndex((r) => r.effect !== 'limits');
  assert.ok(rec.reasons.slice(firstSupport).every((r) => r.effect !== 'limits'));
});

test('the recommendation: copies or an exposing attack keep the data in the team; a tight DP bound with clean tests allows publishing', () => {
  const clean: PrivacyReview = {
    ...review,
    copies: { ...review.copies, ofTraining: 0, ofHoldout: 0 },
    closestRecord: review.closestRecord && { ...review.closestRecord, closerToTraining: (review.closestRecord.chanceLow + review.closestRecord.chanceHigh) / 2 },
    attacks: review.attacks.map((a) => ({ ...a, auc: 0.5, aucLow: 0.42, aucHigh: 0.58, members: 400 })),
  };
  assert.equal(sharingRecommendation(clean).level, 'partners');
  const dp1 = sharingRecommendation({ ...clean, dp: { epsilon: 1, delta: 1e-5 } });
  assert.equal(dp1.level, 'public', JSON.stringify(dp1));
  assert.ok(dp1.reasons.some((r) => r.effect === 'supports' && /at most 3% of the training series/.test(r.text)));
  const dp8 = sharingRecommendation({ ...clean, dp: { epsilon: 8, delta: 1e-5 } });
  assert.equal(dp8.level, 'partners');
  assert.ok(dp8.reasons.some((r) => /too weak/.test(r.text)));
  const copied = sharingRecommendation({ ...clean, dp: { epsilon: 1, delta: 1e-5 }, copies: { ...clean.copies, ofTraining: 5 } });
  assert.equal(copied.level, 'team');
  assert.match(copied.reasons[0].text, /5 of \d+ synthetic series are copies/);
  const exposed = sharingRecommendation({ ...clean, attacks: clean.attacks.map((a, i) => (i === 0 ? { ...a, auc: 0.7, aucLow: 0.62, aucHigh: 0.78 } : a)) });
  assert.equal(exposed.level, 'team');
  // an attack that needs the trained model is a note about the model, not a limit on the data
  const critic = clean.attacks.map((a) => (a.needs === 'trained model' ? { ...a, auc: 0.8, aucLow: 0.7, aucHigh: 0.9 } : a));
  if (critic.some((a) => a.needs === 'trained model')) {
    const r = sharingRecommendation({ ...clean, dp: { epsilon: 1, delta: 1e-5 }, attacks: critic });
    assert.equal(r.level, 'public');
    assert.ok(r.reasons.some((x) => x.effect === 'note' && /trained model/.test(x.text)));
  }
  assert.equal(sharingRecommendation({ ...clean, attacks: [], closestRecord: null }).level, 'team');
  // wide intervals that show no exposure are inconclusive, not support for sharing
  const wide = { ...clean, attacks: clean.attacks.map((a) => ({ ...a, auc: 0.68, aucLow: 0.46, aucHigh: 0.85, members: 400 })) };
  const inconclusive = sharingRecommendation(wide);
  assert.equal(inconclusive.level, 'partners');
  assert.ok(inconclusive.reasons.some((r) => r.effect === 'note' && /inconclusive[\s\S]*about \d+ unseen series a side would decide/.test(r.text)));
  assert.ok(!inconclusive.reasons.some((r) => r.effect === 'supports' && /guessing/.test(r.text)));
  assert.ok(privacyView(wide).attacks.every((a) => a.inconclusive && !a.exposes && /^inconclusive/.test(a.meaning)));
});

test('compare: runs with their settings, headline values, the strongest attack and a trade-off point each', () => {
  const settings = runSettingsView(run);
  assert.deepEqual([settings.iterations, settings.batchSize, settings.dpEpsilon, settings.holdoutFraction], [120, 30, null, 0.25]);
  const dpSettings = { ...settings, dpEpsilon: 4, epsilonSpent: 3.98 };
  const view = compareView([
    { runId: 'a', number: 1, createdAt: '2026-01-01T00:00:00Z', status: 'complete', settings, evaluation: { id: 'e1', syntheticId: 's1', metrics, review } },
    {
      runId: 'b',
      number: 2,
      createdAt: '2026-01-02T00:00:00Z',
      status: 'complete',
      settings: dpSettings,
      evaluation: { id: 'e2', syntheticId: 's2', metrics, review: { ...review, dp: { epsilon: 3.98, delta: 1e-5 } } },
    },
    { runId: 'c', number: 3, createdAt: '2026-01-03T00:00:00Z', status: 'running', settings, evaluation: null },
  ]);
  assert.deepEqual(
    view.runs.map((r) => r.label),
    ['Run 1: no DP, 120 iterations', 'Run 2: DP epsilon 4, 120 iterations', 'Run 3: no DP, 120 iterations'],
  );
  assert.equal(view.metrics.length, headlines(metrics).length);
  assert.equal(view.runs[0].metrics.acfRelativeGap.value, headlines(metrics)[0].value);
  const strongest = Math.max(...review.attacks.map((a) => a.auc));
  assert.equal(view.runs[0].strongestAttack?.auc, strongest);
  assert.deepEqual(
    view.tradeoff.points.map((p) => [p.runId, p.x, p.y]),
    [
      ['a', strongest, metrics.synthetic.discriminative.accuracy],
      ['b', strongest, metrics.synthetic.discriminative.accuracy],
    ],
  );
  assert.equal(view.runs[2].recommendation, null);
});

test('the dossier section: settings, the recommendation with its reasons, escaped', () => {
  const html = dossierSection({ projectName: 'Lines <&>', datasetName: 'demo', runLabel: 'Run 1', settings: runSettingsView(run), plan: run.plan, review, createdAt: '2026-01-01T00:00:00Z' });
  assert.match(html, /Lines &lt;&amp;&gt;/);
  assert.match(html, /Sharing recommendation/);
  assert.match(html, /differential privacy<\/td><td>none/);
  // what a release may contain, in the dossier and as the review's last statement
  assert.match(html, /What can be shared[\s\S]*the synthetic data and the exported model file[\s\S]*Not the run folder: its checkpoint holds the critics/);
  assert.match(review.statements.at(-1) ?? '', /^What can be shared: .*run\.json the holdout series ids/);
  assert.ok(!/<script/i.test(html));
});
