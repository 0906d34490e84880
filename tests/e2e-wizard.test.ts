/**
 * The wizard end to end, in a real browser against browser mode (the real service, store and native
 * engine; nothing mocked): create a project, upload a part of the MBA data with a chunk size, see what was
 * inferred and the preview, edit one column's role and save it as version 2, plan a short quick training,
 * watch it live (a reload in the middle and at the end shows the same run), and check every screen with
 * axe-core. Screenshots of every screen at 1280x800 go to tests/artifacts/wizard-*.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { hasChromium, repo, startE2e } from './fixtures/e2e.ts';

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

test('the wizard: project -> import -> mapping -> train -> live run, screens readable and accessible', { skip: hasChromium ? false : 'needs /usr/bin/chromium', timeout: 180_000 }, async () => {
  const started = Date.now();
  const e2e = await startE2e({ prefix: 'dg-e2e-wizard-' });
  const { page } = e2e;
  const step = async (name: string) => {
    await e2e.shot(`wizard-${name}`);
    await e2e.axe(name);
    // readable at 1280x800 without scrolling sideways
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `${name}: the page scrolls sideways by ${overflow}px`);
  };
  try {
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
    await page.locator('input[type=file]').setInputFiles(mbaSubset(e2e.dir));
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
    await page.getByRole('heading', { name: /Train a model/ }).waitFor();
    await page.getByRole('radio', { name: /Quick/ }).check();
    await page.getByText('Advanced', { exact: true }).click();
    await page.getByLabel(/^Iterations/).fill('200');
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

    // Project: the run with its status and headline numbers
    await page.getByRole('navigation', { name: 'Breadcrumb' }).getByRole('link', { name: 'MBA lines' }).click();
    await page.locator('tr[data-run] [data-status=complete]').waitFor();
    await page.getByRole('cell', { name: '200 / 200' }).waitFor();
    await step('8-project-with-run');
  } catch (error) {
    await e2e.shot('wizard-failure').catch(() => {});
    throw new Error(`${(error as Error).message}\n--- app output ---\n${e2e.app.output().slice(-3000)}`, { cause: error });
  } finally {
    await e2e.close();
    process.stderr.write(`wizard e2e: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  }
});
