/**
 * The custodian's whole journey, in a real browser against browser mode (the real service, store and
 * native engine; nothing mocked): create a project, upload a part of the MBA data with a chunk size, see
 * what was inferred and the preview, edit one column's role and save it as version 2, plan a short quick
 * training, watch it live (a reload in the middle and at the end shows the same run), generate and evaluate
 * from the run screen (as many series as it trained on), the verdict, the privacy review, a CSV export whose
 * size and SHA-256 are the file's and which reads back as this data (rows, labels, ranges), and the export in
 * the project's audit log; axe-core on every screen. Screenshots at 1280x800 go to tests/artifacts/wizard-*.png.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { readDataset } from '../core/data/index.ts';
import { bytes } from '../renderer/src/lib/format.ts';
import { repo, skipWithoutChromium, withE2e } from './fixtures/e2e.ts';

/** Enough for a holdout of 24 series, which membership exposure needs (at least 20). */
const SERIES = 240;
const LENGTH = 56;

/** The first SERIES series of the MBA copy (LENGTH rows each, no id column). */
function mbaSubset(dir: string): string {
  const lines = fs.readFileSync(path.join(repo, 'tests', 'fixtures', 'mba', 'fcc_mba.csv'), 'utf8').split('\n');
  const file = path.join(dir, 'mba_lines.csv');
  fs.writeFileSync(file, `${lines.slice(0, 1 + SERIES * LENGTH).join('\n')}\n`);
  return file;
}

/** The smallest and largest value over some series' values. */
function range(columns: ArrayLike<number>[]): [number, number] {
  let low = Infinity;
  let high = -Infinity;
  for (const values of columns)
    for (let i = 0; i < values.length; i++) {
      low = Math.min(low, values[i]);
      high = Math.max(high, values[i]);
    }
  return [low, high];
}

test('the journey: project -> import -> mapping -> train -> live run -> evaluate -> privacy review -> export -> audit, screens readable and accessible', {
  skip: skipWithoutChromium,
  timeout: 240_000,
}, async () => {
  await withE2e({ name: 'wizard' }, async (e2e) => {
    const { page, step } = e2e;

    // Projects: the demo is there; create a new project
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Demo: broadband lines' }).waitFor();
    await step('1-projects');
    await page.getByLabel('Name').fill('MBA lines');
    await page.getByLabel(/Description/).fill('FCC Measuring Broadband America, a part of it');
    await page.getByRole('button', { name: 'Create project' }).click();

    // Project: empty, import
    await page.getByRole('heading', { name: 'MBA lines', level: 1 }).waitFor();
    await page.getByText('No data yet').waitFor();
    await step('2-project-empty');
    await page.getByRole('link', { name: 'Import data' }).click();

    // Import: chunk size in the advanced options, upload, inferred columns
    await page.getByRole('heading', { name: 'Bring your data' }).waitFor();
    await page.getByText('Advanced: how rows become series').click();
    await page.getByLabel('fixed-size chunks of rows (no id column)').check();
    await page.getByLabel('Rows per series (chunk size)').fill(String(LENGTH));
    const subset = mbaSubset(e2e.dir);
    await page.locator('input[type=file]').setInputFiles(subset);
    await page.getByTestId('series-count').waitFor({ timeout: 30_000 });
    assert.equal(await page.getByTestId('series-count').textContent(), String(SERIES));
    for (const column of ['isp', 'technology', 'state', 'traffic_byte_counter', 'ping_loss_rate']) await page.getByRole('rowheader', { name: column, exact: true }).waitFor();
    assert.equal(await page.getByLabel('Dataset name').inputValue(), 'mba_lines.csv');
    await step('3-import-inspected');
    await page.getByRole('button', { name: 'Import into the project' }).click();
    await page.getByRole('heading', { name: /Preview of/ }).waitFor({ timeout: 30_000 });
    await page.getByText(`Imported ${SERIES} series`).waitFor();
    await page.locator('table.preview tbody tr').first().waitFor({ timeout: 30_000 });
    assert.ok((await page.locator('.grid-charts figure svg').count()) >= 3, 'the preview shows series as charts');
    await step('4-import-preview');
    await page.getByRole('link', { name: 'Next: map columns' }).click();

    // Mapping: state -> ignore, saved as version 2, marked edited
    await page.getByRole('heading', { name: /Map the columns/ }).waitFor();
    await page.getByLabel('Role of state').waitFor();
    assert.equal(await page.getByLabel('Role of state').inputValue(), 'attribute');
    await page.getByLabel('Role of state').selectOption('ignore');
    await page.locator('tr[data-column=state]').getByText('edited').waitFor();
    await page.getByRole('button', { name: 'Save mapping' }).click();
    await page.getByText('Saved as version 2.').waitFor({ timeout: 30_000 });
    await page
      .locator('li[data-version="2"]')
      .getByText(/edited/)
      .waitFor();
    assert.equal(await page.getByLabel('Role of state').inputValue(), 'ignore');
    await step('5-mapping-saved');
    await page.getByRole('link', { name: /Next: train/ }).click();

    // Train: quick, 200 iterations, the plan in words
    await e2e.setUpTraining({ quick: true, iterations: 200 });
    await page.getByTestId('plan').getByText('200 iterations').waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Start training' }).and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
    const plan = await page.getByTestId('plan').textContent();
    assert.match(plan!, /Series used for training\s*216/);
    assert.match(plan!, /Held out for evaluation\s*24/);
    assert.match((await page.getByTestId('estimate').textContent()) ?? '', /about/);
    await step('6-train-plan');
    await page.getByRole('button', { name: 'Start training' }).click();

    // Run: live, a reload in the middle shows the same run, then complete
    await page.waitForURL(/#\/run\//);
    const bar = page.getByRole('progressbar', { name: 'Training progress' });
    await bar.waitFor();
    await page.waitForFunction(() => Number(document.querySelector('[aria-label="Training progress"]')?.getAttribute('aria-valuenow')) > 0, null, { timeout: 60_000 });
    await page.reload();
    await bar.waitFor();
    await page.getByRole('heading', { name: /Training/, level: 1 }).waitFor();
    await page.locator('[data-status=complete]').waitFor({ timeout: 90_000 });
    await page.getByTestId('loss-chart').locator('svg').waitFor();
    assert.equal(await bar.getAttribute('aria-valuenow'), '100');
    assert.match((await page.getByTestId('exposure').textContent()) ?? '', /member AUC 0\.\d+/);
    await page.getByRole('button', { name: 'Generate and evaluate' }).waitFor();
    await step('7-run-complete');
    await page.reload();
    await page.locator('[data-status=complete]').waitFor();
    assert.equal(await bar.getAttribute('aria-valuenow'), '100');
    await page.getByText('Iteration 200 of 200').waitFor();
    await page.getByTestId('loss-chart').locator('svg').waitFor();
    await page.getByText('Generated at iteration 200').waitFor();
    assert.equal(await page.locator('[role=img][aria-label^="Generated:"]').count(), 3);

    // Generate and evaluate: as many series as the run trained on, then the verdict
    await page.getByText('as large as the training data (216 series)').waitFor();
    await page.getByRole('button', { name: 'Generate and evaluate' }).click();
    await page.getByRole('heading', { name: 'Is the synthetic data faithful?', level: 1 }).waitFor({ timeout: 120_000 });
    assert.match((await page.getByTestId('uses').textContent())!, /(good enough for|usable with care for|not for) summary statistics/);
    assert.match((await page.getByTestId('verdict').textContent())!, /^Compared with the 216 real training series, the 216 synthetic series .+\./);
    assert.ok((await page.locator('tr[data-metric]').count()) >= 3, 'the headline metrics are listed');
    await step('8-evaluate');

    // Privacy review: a sharing recommendation and each attack's AUC with its interval
    await page.getByRole('navigation', { name: 'Results' }).getByRole('link', { name: 'Privacy review' }).click();
    await page.getByRole('heading', { name: 'Privacy review', level: 1 }).waitFor();
    assert.match((await page.locator('#recommendation-heading').textContent())!, /Sharing recommendation:\s*(Within the team|Trusted partners|Public)/);
    assert.ok((await page.locator('.recommendation .reasons li').count()) >= 1, 'the recommendation gives its reasons');
    assert.ok((await page.locator('tr[data-attack]').count()) >= 1, 'membership attacks ran (24 held-out series)');
    for (const auc of await page.locator('tr[data-attack] .auc').allTextContents()) assert.match(auc.trim(), /^0\.\d\d \[0\.\d\d, (0\.\d\d|1\.00)\]$/);
    assert.match((await page.getByTestId('dp').textContent())!, /without DP-SGD/);
    await step('9-privacy');

    // Export as CSV: the size and SHA-256 shown are the file's, and the file reads back as this data
    await page.getByRole('navigation', { name: 'Results' }).getByRole('link', { name: 'Export' }).click();
    await page.getByRole('heading', { name: 'Export the synthetic data', level: 1 }).waitFor();
    await page.getByLabel('CSV').check();
    await page.getByLabel('Long').check();
    await page.getByRole('button', { name: 'Create the export' }).click();
    await page.getByTestId('export-sha').waitFor({ timeout: 60_000 });
    const exported = await e2e.download('export-result');
    assert.equal((await page.getByTestId('export-sha').textContent())!.trim(), crypto.createHash('sha256').update(exported).digest('hex'));
    assert.equal(await page.getByTestId('export-size').textContent(), `${bytes(exported.length)} (${exported.length.toLocaleString('en-US')} bytes)`);
    const syntheticId = new URL(page.url()).hash.split('/')[2];
    // the API only to find what the page refers to, never to drive the journey
    const stored = await e2e.call('exports.list', { syntheticId });
    assert.equal(stored.exports[0].sha256, crypto.createHash('sha256').update(fs.readFileSync(stored.exports[0].path)).digest('hex'));
    assert.equal(fs.statSync(stored.exports[0].path).size, exported.length);
    const csv = path.join(e2e.dir, 'exported.csv');
    fs.writeFileSync(csv, exported);
    // Roles given, not inferred: after a quick training a mostly-zero feature can be all zeros in every
    // synthetic series, which inference would read as a per-series attribute.
    const { dataset: synthetic } = await readDataset(csv, { attributes: ['isp', 'technology'], features: ['traffic_byte_counter', 'ping_loss_rate'] });
    const { dataset: real } = await readDataset(subset, { chunkSize: LENGTH });
    assert.equal(synthetic.series.length, 216);
    assert.equal(
      synthetic.series.reduce((rows, s) => rows + s.length, 0),
      exported.toString('utf8').trim().split('\n').length - 1,
    );
    await page
      .getByText(`${(synthetic.series.reduce((rows, s) => rows + s.length, 0)).toLocaleString('en-US')} rows`)
      .first()
      .waitFor();
    assert.ok(!exported.toString('utf8').split('\n')[0].split(',').includes('state'), 'the ignored column is not exported');
    for (const column of ['isp', 'technology']) {
      const a = synthetic.attributes.findIndex((c) => c.name === column);
      const b = real.attributes.findIndex((c) => c.name === column);
      assert.ok(a >= 0 && b >= 0, `no attribute ${column}`);
      const labels = new Set(real.series.map((s) => String(s.attributes[b])));
      for (const s of synthetic.series) assert.ok(labels.has(String(s.attributes[a])), `${column} '${s.attributes[a]}' is not a label of the real data`);
    }
    for (const column of ['traffic_byte_counter', 'ping_loss_rate']) {
      const a = synthetic.features.findIndex((c) => c.name === column);
      const b = real.features.findIndex((c) => c.name === column);
      assert.ok(a >= 0 && b >= 0, `no feature ${column}`);
      const [low, high] = range(real.series.map((s) => s.features[b] as Float64Array));
      const [synthLow, synthHigh] = range(synthetic.series.map((s) => s.features[a] as Float64Array));
      const slack = (high - low) * 1e-6;
      assert.ok(synthLow >= low - slack && synthHigh <= high + slack, `${column}: synthetic [${synthLow}, ${synthHigh}] outside the real [${low}, ${high}]`);
    }
    await step('10-export');

    // Project: the run with its status and headline numbers; its audit log shows the export
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'MBA lines' }).click();
    await page.locator('tr[data-run] [data-status=complete]').waitFor();
    await page.getByRole('cell', { name: '200 / 200' }).waitFor();
    await step('11-project-with-run');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { name: 'Audit log', level: 1 }).waitFor();
    assert.match((await page.getByTestId('chain').textContent())!, /Audit chain verified/);
    const exportRow = page.locator('table.audit tbody tr').filter({ has: page.getByRole('cell', { name: 'export.add', exact: true }) });
    assert.equal(await exportRow.count(), 1);
    assert.match((await exportRow.textContent())!, /csv/);
    await step('12-audit');
  });
});
