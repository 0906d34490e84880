/**
 * A DP-SGD run set up through the wizard, in a real browser against browser mode (the real service, store
 * and native engine): the Train screen's differential-privacy option (the privacy guard switched off with
 * it), the plan's noise, spending and what epsilon does not cover; the run's budget spent as it trains;
 * generate and evaluate from the run screen; the privacy review's DP sentence with its limits; the run on
 * the Compare screen. axe-core on each screen; screenshots tests/artifacts/dp-*.png.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mbaStore, skipWithoutChromium, withE2e } from './fixtures/e2e.ts';

test('DP-SGD through the wizard: plan, run, evaluation, privacy review, compare', { skip: skipWithoutChromium, timeout: 300_000 }, async () => {
  const { storeDir, projectId, datasetId } = await mbaStore('private lines');
  await withE2e({ name: 'dp', storeDir }, async (e2e) => {
    const { page } = e2e;
    const step = (name: string) => e2e.step(name, { overflow: false });

    // ---- Train: DP-SGD at epsilon 8, a short run; the plan says what the noise buys and what it does not cover
    await e2e.setUpTraining({ datasetId, iterations: 40 });
    await page.getByLabel(/Differential privacy \(DP-SGD\)/).check();
    assert.ok(await page.getByLabel(/Privacy guard/).isDisabled(), 'the guard is not needed (nor allowed to steer) under DP');
    await page.getByLabel(/Privacy budget/).fill('8');
    await page.getByText('Noise multiplier', { exact: true }).waitFor({ timeout: 60_000 });
    await page.getByText(/covered by epsilon: the model's weights and everything generated from them/).waitFor({ timeout: 60_000 });
    await page.getByText(/not covered \(read from the data and kept as they are\): the value ranges of traffic_byte_counter, ping_loss_rate/).waitFor();
    await page.getByText(/the privacy unit is one series/).waitFor();
    await page.getByRole('button', { name: 'Start training' }).and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
    await step('1-train-plan');
    await page.getByRole('button', { name: 'Start training' }).click();

    // ---- Run: the budget spent, up to the target, then complete
    await page.waitForURL(/#\/run\//);
    await page.locator('[data-status=complete]').waitFor({ timeout: 120_000 });
    const spent = (await page.getByTestId('epsilon').textContent())!;
    const [epsilon, target] = spent.match(/[\d.]+/g)!.map(Number);
    assert.ok(epsilon > 0 && epsilon <= 8 && target === 8, `epsilon spent: ${spent}`);
    await step('2-run');

    // ---- Generate and evaluate, then the privacy review says what the guarantee covers and what it does not
    await page.getByRole('button', { name: 'Generate and evaluate' }).click();
    await page.getByRole('heading', { name: 'Is the synthetic data faithful?', level: 1 }).waitFor({ timeout: 180_000 });
    await page.getByRole('navigation', { name: 'Results' }).getByRole('link', { name: 'Privacy review' }).click();
    await page.getByRole('heading', { name: 'Privacy review', level: 1 }).waitFor();
    const dp = (await page.getByTestId('dp').textContent())!;
    assert.match(dp, /Trained with DP-SGD, epsilon [0-8]\.\d\d at delta/);
    assert.match(dp, /The bound does not cover what the run read from the data outside the accountant/);
    await step('3-privacy');

    // ---- Compare: the run is there, labelled with its epsilon
    await e2e.open(`compare/${projectId}`);
    await page.getByRole('heading', { name: 'Compare runs', level: 1 }).waitFor();
    assert.deepEqual(await page.locator('th.run').allTextContents(), ['Run 1: DP epsilon 8, 40 iterations']);
    await step('4-compare');
  });
});
