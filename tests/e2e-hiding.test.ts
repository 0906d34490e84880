/**
 * The Train screen's hiding control in a real browser against browser mode (the real service and store):
 * every attribute is offered; coarsen and "hide its distribution" reach the plan, which says what they do;
 * a table of frequencies that sums to 0 is refused next to the control; the run starts with them.
 * axe-core on the screen with the controls open. Screenshot: tests/artifacts/hiding-train.png.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApiHost } from '../core/api/host.ts';
import { mbaStore, skipWithoutChromium, withE2e } from './fixtures/e2e.ts';

test('hiding attributes on the Train screen: keep, drop, coarsen, replace reach the plan and the run', { skip: skipWithoutChromium, timeout: 240_000 }, async () => {
  const { storeDir, projectId, datasetId } = await mbaStore('hiding');
  await withE2e({ name: 'hiding', storeDir }, async (e2e) => {
    const { page } = e2e;
    await e2e.setUpTraining({ datasetId, iterations: 10 });
    const control = page.getByTestId('hide-attributes');
    await control.waitFor({ timeout: 60_000 });
    for (const name of ['isp', 'technology', 'state']) await control.getByLabel(new RegExp(`^${name}`)).waitFor();

    await control.getByLabel(/^state/).selectOption('coarsen');
    await control.getByLabel('Merge categories held by fewer than').fill('10');
    await page.getByText(/hidden: \d+ categories of state held by fewer than 10 series merged into 'other \(merged\)'/).waitFor({ timeout: 60_000 });

    await control.getByLabel(/^isp/).selectOption('replace');
    await page.getByText(/once training completes, isp's learned distribution is replaced by a uniform one/).waitFor({ timeout: 60_000 });
    // one replaced distribution per run: the other attributes cannot take a second one
    assert.equal(
      await control
        .getByLabel(/^technology/)
        .locator('option[value="replace"]')
        .isDisabled(),
      true,
    );

    // a table of frequencies: all zero is refused next to the control, one above zero is taken
    await control.getByRole('radio', { name: /these frequencies/ }).check();
    for (const input of await control.getByLabel(/^frequency of /).all()) await input.fill('0');
    await page.getByRole('alert').filter({ hasText: /sum/ }).waitFor({ timeout: 60_000 });
    await control.getByLabel('frequency of Windstream').fill('3');
    await control.getByLabel('frequency of Verizon').fill('1');
    await page.getByText(/isp's learned distribution is replaced by the given frequencies/).waitFor({ timeout: 60_000 });
    await e2e.axe('train with hiding');
    await e2e.shot('hiding-train');

    await page.getByRole('button', { name: 'Start training' }).and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.getByRole('heading', { name: /Training/, level: 1 }).waitFor({ timeout: 60_000 });
  });
  const check = await createApiHost({ storeDir });
  try {
    const runs = (await check.call('projects.get', { projectId })) as { ok: boolean; result: { runs: Array<{ settings: { hide?: Array<Record<string, unknown>> } }> } };
    assert.ok(runs.ok);
    const [isp, state] = runs.result.runs[0].settings.hide!;
    assert.deepEqual(state, { attribute: 'state', mode: 'coarsen', minSeries: 10 });
    assert.equal(isp.mode, 'replace');
    const target = isp.target as Record<string, number>;
    assert.deepEqual(
      Object.entries(target).filter(([, w]) => w > 0),
      [
        ['Windstream', 3],
        ['Verizon', 1],
      ].sort((a, b) => Object.keys(target).indexOf(a[0] as string) - Object.keys(target).indexOf(b[0] as string)),
    );
  } finally {
    await check.close();
  }
});
