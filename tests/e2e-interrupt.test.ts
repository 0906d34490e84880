/**
 * A server killed during a training, seen from the page (the real service, store and native engine in
 * browser mode; nothing mocked): a training started from the Train screen and watched live, the server
 * killed with SIGKILL (as a crash would), its orphaned worker checkpointing and exiting, the server started
 * again on the same store, the page reloaded: the run screen says the training was interrupted and why,
 * Resume continues from the last checkpoint and the training completes. Screenshots at 1280x800 go to
 * tests/artifacts/interrupt-*.png.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { demoDataset } from '../core/data/demo.ts';
import { type Json, skipWithoutChromium, withE2e } from './fixtures/e2e.ts';

const SERIES = 60;
const LENGTH = 24;
/** Long enough to kill it in the middle, short enough to finish after the resume. */
const ITERATIONS = 1500;

test('a server killed during training: the page shows the run interrupted, Resume completes it', { skip: skipWithoutChromium, timeout: 180_000 }, async () => {
  await withE2e({ name: 'interrupt' }, async (e2e) => {
    const { page, call } = e2e;
    const progress = () => page.getByRole('progressbar', { name: 'Training progress' });
    const percent = async () => Number(await progress().getAttribute('aria-valuenow'));

    // a project with a dataset, through the API (the wizard's import has its own test)
    const project = await call('projects.create', { name: 'Crash lines' });
    const imported = await e2e.importDemo(project.id, demoDataset({ series: SERIES, length: LENGTH, seed: 3 }));

    // Train: a long quick training, started from the page
    await e2e.setUpTraining({ datasetId: imported.dataset.id, quick: true, iterations: ITERATIONS });
    await page
      .getByTestId('plan')
      .getByText(`${ITERATIONS.toLocaleString('en-US')} iterations`)
      .waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Start training' }).and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
    await page.getByRole('button', { name: 'Start training' }).click();

    // Run: watched live until well past the first checkpoint
    await page.waitForURL(/#\/run\//);
    const runId = new URL(page.url()).hash.split('/')[2];
    await progress().waitFor();
    await page.locator('[data-status=running]').waitFor();
    await page.waitForFunction(() => Number(document.querySelector('[aria-label="Training progress"]')?.getAttribute('aria-valuenow')) >= 15, null, { timeout: 60_000 });
    await e2e.shot('interrupt-1-live');
    const runDir = path.join(e2e.app.storeDir, 'projects', project.id, 'runs', runId);
    const lock = path.join(runDir, 'training.lock');
    const workerPid = Number(fs.readFileSync(lock, 'utf8'));
    assert.ok(workerPid > 0, 'the training runs in its own process');

    // kill -9 the server; its orphaned worker notices, checkpoints and exits; the server starts again
    await e2e.restart({
      kill: true,
      async beforeStart() {
        const alive = () => {
          try {
            process.kill(workerPid, 0);
            return true;
          } catch {
            return false;
          }
        };
        for (let i = 0; i < 300 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
        assert.ok(!alive(), 'the worker kept running after its server was killed');
        assert.ok(!fs.existsSync(lock), 'the worker left its lock behind');
      },
    });
    await page.getByRole('heading', { name: /Training/, level: 1 }).waitFor();
    await page.locator('[data-status=interrupted]').waitFor({ timeout: 30_000 });
    const warning = page.getByRole('status').filter({ hasText: 'This training was interrupted' });
    await warning.waitFor();
    const stoppedAt = (await call('runs.get', { runId })).iteration;
    assert.ok(stoppedAt > 0 && stoppedAt < ITERATIONS, `stopped at ${stoppedAt}`);
    assert.match((await warning.textContent())!, /This training was interrupted: .*stopped unexpectedly\./);
    assert.match((await warning.textContent())!, new RegExp(`last checkpoint \\(iteration ${stoppedAt.toLocaleString('en-US')}\\)\\. Resume continues from there\\.`));
    assert.equal(await percent(), Math.round((stoppedAt / ITERATIONS) * 100));
    await page.getByText(`Iteration ${stoppedAt.toLocaleString('en-US')} of ${ITERATIONS.toLocaleString('en-US')}`).waitFor();
    await page.getByTestId('loss-chart').locator('svg').waitFor();
    // the generated series of the last checkpoint, still there after the restart
    await page.locator('[role=img][aria-label^="Generated:"] svg').first().waitFor();
    assert.match((await page.locator('[role=img][aria-label^="Generated:"]').first().getAttribute('aria-label'))!, new RegExp(`over ${LENGTH} time steps$`));
    await e2e.shot('interrupt-2-interrupted');
    await e2e.axe('interrupted');

    // Resume: it trains on from the checkpoint and completes
    await page.getByRole('button', { name: 'Resume' }).click();
    await page.locator('[data-status=running]').waitFor({ timeout: 30_000 });
    await warning.waitFor({ state: 'detached' });
    await page.locator('[data-status=complete]').waitFor({ timeout: 120_000 });
    assert.equal(await percent(), 100);
    await page.getByText(`Iteration ${ITERATIONS.toLocaleString('en-US')} of ${ITERATIONS.toLocaleString('en-US')}`).waitFor();
    await page.getByRole('button', { name: 'Generate and evaluate' }).waitFor();
    const done = await call('runs.get', { runId });
    assert.equal(done.status, 'complete', JSON.stringify(done.error));
    assert.equal(done.iteration, ITERATIONS);
    const audit = await call('audit.list', { projectId: project.id });
    assert.ok(
      audit.some((row: Json) => row.action === 'run.status' && row.details?.status?.to === 'interrupted'),
      'the audit log records the interruption',
    );
    await e2e.shot('interrupt-3-resumed-complete');
  });
});
