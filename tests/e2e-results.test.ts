/**
 * The result screens end to end, in a real browser against browser mode (the real service, store and
 * native engine; nothing mocked). Set up through the HTTP API (fast): 120 demo series imported, two short
 * runs (plain, and DP-SGD at epsilon 8), each generated and evaluated. Then in Chromium: Evaluate (the
 * verdict paragraph, every metric row, charts, the full report), Privacy review (the recommendation, each
 * attack's AUC), Export (a CSV whose SHA-256 is the file's, read back: rows and labels; the dossier; the model file),
 * Compare (both runs) and the Audit log (rows, chain verified); axe-core on each and screenshots at
 * 1280x800 into tests/artifacts/results-*.png.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { test } from 'node:test';
import { demoDataset } from '../core/data/demo.ts';
import { type Json, skipWithoutChromium, withE2e } from './fixtures/e2e.ts';

const SERIES = 120;
const LENGTH = 24;

test('the result screens: evaluate, privacy review, export, compare, audit', { skip: skipWithoutChromium, timeout: 240_000 }, async () => {
  await withE2e({ name: 'results' }, async (e2e) => {
    const { page, call, step, open, origin } = e2e;

    // ---- set up through the API: a project, 120 series, a plain and a DP run, each generated and evaluated
    const data = demoDataset({ series: SERIES, length: LENGTH, seed: 7 });
    const project = await call('projects.create', { name: 'Results lines' });
    const imported = await e2e.importDemo(project.id, data);
    const base = { batchSize: 40, engine: 'native', holdoutFraction: 0.25, seed: 1 };
    const plain = await call('runs.start', { datasetId: imported.dataset.id, settings: { ...base, iterations: 200 } });
    const dp = await call('runs.start', { datasetId: imported.dataset.id, settings: { ...base, iterations: 60, dp: { epsilon: 8 } } });
    const results: Json[] = [];
    for (const run of [plain, dp]) {
      let done = run;
      for (let i = 0; i < 1200 && (done.live || done.status === 'running'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        done = await call('runs.get', { runId: run.id });
      }
      assert.equal(done.status, 'complete', JSON.stringify(done.error));
      const synthetic = await call('runs.generate', { runId: run.id, n: 90 });
      const evaluation = await call('evaluations.create', { syntheticId: synthetic.id });
      results.push({ run, synthetic, evaluationId: evaluation.evaluation.id, stored: await call('evaluations.get', { evaluationId: evaluation.evaluation.id }) });
    }
    const [first, second] = results;
    process.stderr.write(`results e2e: set up in ${((Date.now() - e2e.started) / 1000).toFixed(1)} s\n`);

    // ---- Evaluate
    await open(`evaluation/${first.evaluationId}`);
    await page.getByRole('heading', { name: 'Is the synthetic data faithful?', level: 1 }).waitFor();
    // What it is good for, one use a line with its verdict in words, then the paragraph explaining it
    const uses = await page.getByTestId('uses').getByRole('listitem').allTextContents();
    assert.deepEqual(
      uses.map((u) => u.trim()),
      first.stored.fidelity.uses.map((u: { use: string; words: string }) => `${u.words} ${u.use}`),
    );
    assert.ok(uses.some((u) => u.includes("the series' dynamics (forecasting or anomaly detection)")));
    const verdict = await page.getByTestId('verdict').textContent();
    assert.equal(verdict, first.stored.fidelity.details);
    assert.equal(first.stored.fidelity.verdict.endsWith(verdict!), true, 'the one-paragraph verdict ends with the same explanation');
    assert.match(verdict!, /^Compared with the 90 real training series, the 90 synthetic series/);
    assert.equal(await page.locator('tr[data-metric]').count(), first.stored.fidelity.headlines.length);
    const acfRow = page.locator('tr[data-metric="acfRelativeGap"]');
    assert.match((await acfRow.textContent())!, /ACF gap \(relative\).*temporal structure.*holdout \d.*(faithful|approximate|unfaithful)/);
    await page.getByRole('heading', { name: 'Sample series side by side' }).waitFor();
    await page.locator('[role=img][aria-label^="Autocorrelation of"] svg').first().waitFor();
    const report = await page.getByRole('link', { name: 'Open the full report (HTML)' }).getAttribute('href');
    const reportResponse = await page.request.get(new URL(report!, origin).toString());
    assert.equal(reportResponse.status(), 200);
    assert.match(await reportResponse.text(), /<h1>Fidelity and privacy of/);
    await step('1-evaluate');

    // ---- Privacy review
    await page.getByRole('link', { name: 'Privacy review' }).first().click();
    await page.getByRole('heading', { name: 'Privacy review', level: 1 }).waitFor();
    const recommendation = first.stored.review.recommendation;
    assert.match((await page.locator('#recommendation-heading').textContent())!, new RegExp(`Sharing recommendation: ${recommendation.label}`));
    await page.getByText(recommendation.summary).waitFor();
    for (const reason of recommendation.reasons) await page.getByText(reason.text, { exact: false }).first().waitFor();
    const attack = first.stored.review.attacks[0];
    assert.equal((await page.locator(`tr[data-attack="${attack.name}"] .auc`).textContent())?.trim(), attack.aucText);
    assert.match(attack.aucText, /^0\.\d\d \[0\.\d\d, (0\.\d\d|1\.00)\]$/);
    assert.match((await page.getByTestId('dp').textContent())!, /without DP-SGD/);
    await step('2-privacy');
    await open(`privacy/${second.evaluationId}`);
    await page
      .getByTestId('dp')
      .filter({ hasText: /epsilon \d/ })
      .waitFor();
    assert.match((await page.getByTestId('dp').textContent())!, /Trained with DP-SGD, epsilon [78]\.\d\d at delta 1e-5/);
    await page.locator('#recommendation-heading').filter({ hasText: second.stored.review.recommendation.label }).waitFor();
    await step('3-privacy-dp');

    // ---- Export: a CSV, its SHA-256 the file's, read back; the dossier
    await open(`export/${first.synthetic.id}`);
    await page.getByRole('heading', { name: 'Export the synthetic data', level: 1 }).waitFor();
    await page.getByLabel('CSV').check();
    await page.getByLabel('Long').check();
    await page.getByRole('button', { name: 'Create the export' }).click();
    await page.getByTestId('export-sha').waitFor({ timeout: 30_000 });
    const sha = (await page.getByTestId('export-sha').textContent())!.trim();
    const listed = await call('exports.list', { syntheticId: first.synthetic.id });
    const file = listed.exports[0].path;
    assert.equal(sha, crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'));
    const downloaded = await e2e.download('export-result');
    assert.equal(crypto.createHash('sha256').update(downloaded).digest('hex'), sha);
    const lines = downloaded.toString('utf8').trim().split('\n');
    const header = lines[0].split(',');
    for (const column of ['isp', 'technology', 'region', 'download_mbps']) assert.ok(header.includes(column), `no ${column} in ${header}`);
    assert.equal(lines.length - 1, 90 * LENGTH);
    const isp = header.indexOf('isp');
    const realIsps = new Set(data.series.map((s) => String(s.attributes[data.attributes.findIndex((c) => c.name === 'isp')])));
    const syntheticIsps = new Set(lines.slice(1).map((l) => l.split(',')[isp]));
    assert.ok(
      [...syntheticIsps].every((label) => realIsps.has(label)),
      `labels ${[...syntheticIsps]} vs ${[...realIsps]}`,
    );
    await page.getByText(`${(90 * LENGTH).toLocaleString('en-US')} rows`).waitFor();
    await page.getByRole('button', { name: 'Write the dossier' }).click();
    await page.getByTestId('dossier-result').waitFor({ timeout: 30_000 });
    const dossierHtml = (await e2e.download('dossier-result')).toString('utf8');
    assert.match(dossierHtml, /Sharing recommendation/);
    assert.match(dossierHtml, /differential privacy<\/td><td>none/);
    assert.equal(await page.locator('table.exports tbody tr').count(), 2);
    // the model file: written, downloadable, a .dgm the model-file reader accepts
    await page.getByRole('button', { name: 'Write the model file' }).click();
    await page.getByTestId('model-result').waitFor({ timeout: 30_000 });
    const modelBytes = await e2e.download('model-result');
    assert.equal(modelBytes.toString('latin1', 0, 8), 'DGMODEL\0');
    assert.equal(crypto.createHash('sha256').update(modelBytes).digest('hex'), (await page.getByTestId('model-sha').textContent())!.trim());
    for (const id of data.series.map((s) => s.id)) assert.equal(modelBytes.indexOf(Buffer.from(id)), -1, `series id ${id} in the model file`);
    await page.locator('table.exports td', { hasText: 'model file (.dgm)' }).waitFor();
    assert.equal(await page.locator('table.exports tbody tr').count(), 3);
    await step('4-export');

    // ---- Compare
    await open(`compare/${project.id}`);
    await page.getByRole('heading', { name: 'Compare runs', level: 1 }).waitFor();
    await page.locator('th.run').nth(1).waitFor();
    assert.deepEqual(await page.locator('th.run').allTextContents(), ['Run 1: no DP, 200 iterations', 'Run 2: DP epsilon 8, 60 iterations']);
    await page.locator('[role=img][aria-label^="Each evaluated run"] svg').waitFor();
    assert.match((await page.locator('[role=img][aria-label^="Each evaluated run"]').getAttribute('aria-label'))!, /Run 1: no DP.*Run 2: DP epsilon 8/);
    assert.equal(await page.locator('tr[data-metric]').count(), first.stored.fidelity.headlines.length);
    await step('5-compare');

    // ---- Audit log
    await open(`audit/${project.id}`);
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    await page.getByTestId('chain').waitFor();
    assert.match((await page.getByTestId('chain').textContent())!, /Audit chain verified/);
    const audit = await call('audit.list', { projectId: project.id });
    assert.equal(await page.locator('table.audit tbody tr').count(), audit.length);
    assert.equal((await page.locator('table.audit tbody tr').first().locator('td').nth(3).textContent())?.trim(), audit[0].action);
    await page.getByRole('cell', { name: 'export.add' }).first().waitFor();
    await step('6-audit');
  });
});
