import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { demoDataset } from '../core/data/demo.ts';
import { evaluate, renderReport } from '../core/eval/index.ts';
import { privacyReportSection } from '../core/privacy/report-section.ts';
import { reviewPrivacy } from '../core/privacy/review.ts';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

test('the fidelity and privacy report opens offline in Chromium with every chart drawn', async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`);
  const real = demoDataset({ series: 80, length: 24, seed: 1 });
  const synthetic = demoDataset({ series: 80, length: 24, seed: 2 });
  const holdout = demoDataset({ series: 30, length: 24, seed: 3 });
  const privacy = await reviewPrivacy({ train: real, holdout, synthetic });
  const html = renderReport(evaluate({ real, synthetic, holdout }), { real, synthetic, holdout }, 'Browser check', [privacyReportSection(privacy)]);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dg-report-')), 'report.html');
  fs.writeFileSync(file, html);
  const charts = (html.match(/<svg[\s>]/g) ?? []).length;
  assert.ok(charts >= 10, `expected the report's charts, found ${charts} <svg> elements`);

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    // Any request that leaves the file itself means the report is not self-contained.
    page.on('request', (r) => r.url() !== pathToFileURL(file).href && problems.push(`request to ${r.url()}`));
    await page.goto(pathToFileURL(file).href);
    const drawn = await page.$$eval(
      'svg',
      (svgs) =>
        svgs.filter((svg) => {
          const box = svg.getBoundingClientRect();
          // A drawn chart has a real size and marks in it (paths or text), not an empty frame.
          return box.width > 50 && box.height > 50 && svg.querySelectorAll('path, text').length > 3;
        }).length,
    );
    assert.equal(drawn, charts, 'every chart has a size and content');
    assert.deepEqual(problems, []);
    assert.match((await page.textContent('body')) ?? '', /indistinguishable|faithful/);
    // the privacy section: every finding as a list item, the attacks as table rows
    const section = page.locator('section', { has: page.locator('h2', { hasText: 'Privacy' }) });
    assert.equal(await section.locator('li').count(), privacy.statements.length);
    assert.equal(await section.locator('tbody tr').count(), 2, 'two attacks need only the synthetic data');
    assert.match((await section.textContent()) ?? '', /tells training series from unseen ones with AUC 0\.\d\d \[/);
  } finally {
    await browser.close();
  }
});
