/**
 * The wizard with the keyboard alone, in a real browser against browser mode: Tab through each screen
 * (projects, project, import, mapping, train), every stop shows a visible focus indicator, and focus
 * reaches each screen's main actions; a project is created with the keyboard only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { demoDataset } from '../core/data/demo.ts';
import { skipWithoutChromium, withE2e } from './fixtures/e2e.ts';

interface Stop {
  name: string;
  tag: string;
  visible: boolean;
}

/** What has focus: its accessible-ish name, its tag, and whether a focus indicator is drawn (outline or box shadow). */
const focused = (page: Page): Promise<Stop | null> =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return null;
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && Number.parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== 'none';
    const label = el.getAttribute('aria-label') ?? (el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null) ?? el.closest('label')?.textContent ?? el.textContent ?? '';
    return { name: label.replace(/\s+/g, ' ').trim(), tag: el.tagName.toLowerCase(), visible: outline || shadow };
  });

/** Tabs from the top of the page until focus comes back round (or `max` stops); every stop must show its focus. */
async function tabThrough(page: Page, screen: string, max = 80): Promise<Stop[]> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const stops: Stop[] = [];
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const stop = await focused(page);
    if (!stop) break;
    if (stops.length > 2 && stop.name === stops[0].name && stop.tag === stops[0].tag) break;
    stops.push(stop);
  }
  const invisible = stops.filter((s) => !s.visible);
  assert.deepEqual(invisible, [], `${screen}: focus is not visible on ${invisible.map((s) => `${s.tag} "${s.name}"`).join(', ')}`);
  return stops;
}

const reaches = (stops: Stop[], screen: string, name: RegExp) =>
  assert.ok(
    stops.some((s) => name.test(s.name)),
    `${screen}: Tab never reaches ${name}; stops: ${stops.map((s) => `${s.tag} "${s.name}"`).join(' | ')}`,
  );

test('the wizard by keyboard: visible focus on every stop, the main actions reachable', { skip: skipWithoutChromium, timeout: 120_000 }, async () => {
  await withE2e({ name: 'keyboard' }, async (e2e) => {
    const { page, open } = e2e;

    // Projects: the skip link first, then the form; a project created with the keyboard alone
    await page.getByRole('heading', { name: 'Projects', level: 1 }).waitFor();
    await page.getByRole('link', { name: 'Demo: broadband lines' }).waitFor();
    const projects = await tabThrough(page, 'projects');
    assert.equal(projects[0].name, 'Skip to content');
    for (const name of [/^Demo: broadband lines$/, /^Name/, /^Create project$/]) reaches(projects, 'projects', name);
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    while ((await focused(page))?.name.startsWith('Name') !== true) await page.keyboard.press('Tab');
    await page.keyboard.type('Keyboard lines');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Keyboard lines', level: 1 }).waitFor();
    const projectId = new URL(page.url()).hash.split('/')[2];

    // Project: import is reachable
    reaches(await tabThrough(page, 'project'), 'project', /^Import (data|a file)$/);

    // Import: the file picker and the advanced options are reachable
    await open(`import/${projectId}`);
    await page.getByRole('heading', { name: 'Bring your data' }).waitFor();
    const importStops = await tabThrough(page, 'import');
    assert.ok(
      importStops.some((s) => s.tag === 'input' || s.tag === 'button' || s.tag === 'label'),
      'import: nothing to pick a file with',
    );
    reaches(importStops, 'import', /Advanced: how rows become series/);

    // a dataset through the API, then mapping and train
    const imported = await e2e.importDemo(projectId, demoDataset({ series: 40, length: 12, seed: 5 }));

    await open(`mapping/${imported.dataset.id}`);
    await page.getByRole('heading', { name: /Map the columns/ }).waitFor();
    await page.locator('select').first().waitFor();
    const mapping = await tabThrough(page, 'mapping', 120);
    for (const name of [/^Role of isp/, /^Kind of isp/, /^Next: train/]) reaches(mapping, 'mapping', name);
    // a role edited with the arrow keys, then saved with the keyboard (Save is there once something changed)
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    while ((await focused(page))?.name.startsWith('Role of region') !== true) await page.keyboard.press('Tab');
    const before = await page.getByLabel('Role of region').inputValue();
    await page.keyboard.press('ArrowDown');
    assert.notEqual(await page.getByLabel('Role of region').inputValue(), before, 'the arrow keys change a role');
    const edited = await tabThrough(page, 'mapping (edited)', 120);
    reaches(edited, 'mapping (edited)', /^Save mapping$/);
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    while ((await focused(page))?.name !== 'Save mapping') await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByText('Saved as version 2.').waitFor({ timeout: 30_000 });

    await open(`train/${imported.dataset.id}`);
    await page.getByRole('heading', { name: /Train a model/ }).waitFor();
    await page.getByRole('button', { name: 'Start training' }).and(page.locator(':enabled')).waitFor({ timeout: 60_000 });
    const train = await tabThrough(page, 'train');
    // the presets are one radio group (one stop, arrow keys between them)
    for (const name of [/^Standard/, /DP-SGD/, /^Advanced$/, /^Start training$/]) reaches(train, 'train', name);
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    while ((await focused(page))?.name.startsWith('Standard') !== true) await page.keyboard.press('Tab');
    await page.keyboard.press('ArrowUp');
    assert.ok(await page.getByRole('radio', { name: /Quick/ }).isChecked(), 'the arrow keys pick a preset');
    await e2e.shot('keyboard-train');
  });
});
