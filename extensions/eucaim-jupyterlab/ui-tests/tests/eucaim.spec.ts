/**
 * The EUCAIM Catalogue panel in the real JupyterLab, against a node with 10,000 generated datasets and one
 * ingested DICOM dataset ("tutorial-lung-ct", held by hospital-a):
 *   1. panel ready and search-as-you-type timings (written to artifacts/timings.json);
 *   2. search, filter, details, request access, approval through the CLI, live status, checkout,
 *      sandboxed notebook whose first cell lists the checkout's files.
 * Every step leaves a screenshot in ui-tests/artifacts/.
 */
import { expect, galata, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');
const CLI =
  process.env.EUCAIM_LAB_CLI ??
  path.resolve(__dirname, '..', '..', '..', '..', '.venv', 'bin', 'eucaim-lab');
const FLOW_DATASET = 'tutorial-lung-ct';
const HOLDER = 'hospital-a';

fs.mkdirSync(ARTIFACTS, { recursive: true });

type Page = Parameters<Parameters<typeof test>[1]>[0]['page'];

async function shot(page: Page, name: string, panelOnly = true): Promise<void> {
  const target = panelOnly ? page.locator('#eucaim-catalogue') : page;
  await target.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
}

async function openPanel(page: Page): Promise<void> {
  const tab = page.locator('.jp-SideBar [data-id="eucaim-catalogue"]');
  await tab.click();
  await expect(page.locator('#eucaim-catalogue')).toBeVisible();
  await expect(page.locator('#eucaim-catalogue[data-ready="true"]')).toHaveCount(1);
  // widen the side bar (drag the split handle) so screenshots show the panel as a user would size it
  const handle = page.locator('#jp-main-split-panel > .lm-SplitPanel-handle').first();
  const box = await handle.boundingBox();
  if (box) {
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + 180, box.y + box.height / 2, { steps: 4 });
    await page.mouse.up();
  }
}

/** Type `text` key by key; after each key wait for its results and collect the panel's timings. */
async function typeAndTime(
  page: Page,
  text: string
): Promise<Array<{ query: string; searchMs: number; typedToRenderMs: number; serverMs: number; total: number }>> {
  const box = page.getByTestId('eucaim-search');
  const timings = [];
  for (let i = 1; i <= text.length; i++) {
    const query = text.slice(0, i);
    await box.press(text[i - 1] === ' ' ? 'Space' : text[i - 1]);
    const expected = JSON.stringify({ text: query, facets: {} });
    await page.waitForFunction(
      q => document.getElementById('eucaim-catalogue')?.dataset.query === q,
      expected
    );
    const t = await page.evaluate(() => {
      const d = document.getElementById('eucaim-catalogue')!.dataset;
      return {
        searchMs: Number(d.searchMs),
        typedToRenderMs: Number(d.typedToRenderMs),
        serverMs: Number(d.serverMs),
        total: Number(d.total)
      };
    });
    timings.push({ query, ...t });
  }
  return timings;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

test.describe.configure({ mode: 'serial' });

test('panel ready and search-as-you-type on 10,000 datasets', async ({ page }) => {
  const marks = await page.waitForFunction(() => {
    const get = (n: string) => performance.getEntriesByName(n)[0]?.startTime;
    const restored = get('eucaim-lab-restored');
    const ready = get('eucaim-panel-ready');
    return restored !== undefined && ready !== undefined ? { restored, ready } : null;
  });
  const { restored, ready } = (await marks.jsonValue())!;
  await openPanel(page);
  const total = await page.evaluate(() => Number(document.getElementById('eucaim-catalogue')!.dataset.total));
  expect(total).toBeGreaterThanOrEqual(10000);
  await shot(page, '01-panel-open');

  // warm-up (first query compiles SQLite statements), then the measured typing
  await typeAndTime(page, 'x');
  await page.getByTestId('eucaim-search').fill('');
  const typed = await typeAndTime(page, 'lung radiomics');
  await shot(page, '02-search-as-you-type');
  const searchMs = typed.map(t => t.searchMs);
  const extra = await page.evaluate(() => {
    const get = (n: string) => Math.round(performance.getEntriesByName(n)[0]?.startTime ?? -1);
    return { activate: get('eucaim-activate'), first_search_sent: get('eucaim-first-search-sent') };
  });
  const result = {
    targets_met: { panel_ready_within_1s: ready - restored < 1000, search_median_within_100ms: median(searchMs) < 100 },
    datasets: total,
    plugin_activated_after_navigation_ms: extra.activate,
    first_search_sent_after_navigation_ms: extra.first_search_sent,
    panel_ready_after_lab_restored_ms: Math.round(ready - restored),
    panel_ready_after_navigation_ms: Math.round(ready),
    lab_restored_after_navigation_ms: Math.round(restored),
    search_queries: typed.length,
    search_request_to_render_ms: { median: median(searchMs), max: Math.max(...searchMs) },
    search_server_ms: { median: median(typed.map(t => t.serverMs)), max: Math.max(...typed.map(t => t.serverMs)) },
    keystroke_to_render_ms_incl_debounce: {
      median: median(typed.map(t => t.typedToRenderMs)),
      max: Math.max(...typed.map(t => t.typedToRenderMs))
    },
    per_query: typed
  };
  fs.writeFileSync(path.join(ARTIFACTS, 'timings.json'), JSON.stringify(result, null, 2));
  console.log(JSON.stringify({ ...result, per_query: undefined }, null, 2));
  expect(typed[typed.length - 1].total).toBeGreaterThan(0);
  expect(typed[typed.length - 1].total).toBeLessThan(total);
  // the targets (ready < 1 s, search < 100 ms) are recorded, not asserted: a loaded CI machine must not fail the
  // run on speed (docs/benchmarks.md holds the figures); only a gross regression (10x) fails
  expect(ready - restored).toBeLessThan(10000);
  expect(median(searchMs)).toBeLessThan(1000);

  // scrolling deep into the virtualised list keeps few rows in the DOM and loads further pages
  await page.getByTestId('eucaim-search').fill('');
  await page.waitForFunction(() => Number(document.getElementById('eucaim-catalogue')!.dataset.total) >= 10000);
  const list = page.getByTestId('eucaim-results');
  await list.evaluate(el => (el.scrollTop = 56 * 3000));
  await expect(page.locator('[data-testid="eucaim-result"]').first()).toBeVisible();
  const rowsInDom = await page.locator('[data-testid="eucaim-result"], .jp-eucaim-row-pending').count();
  expect(rowsInDom).toBeLessThan(60);
  await expect(page.locator('.jp-eucaim-row-pending')).toHaveCount(0, { timeout: 20000 });
  await shot(page, '03-scrolled-deep');
});

test('search, filter, details, request, approve, check out, sandboxed notebook', async ({ page }) => {
  test.setTimeout(240000);
  await openPanel(page);
  const panel = page.locator('#eucaim-catalogue');

  // search and filter
  await page.getByTestId('eucaim-search').fill('lung');
  await page.waitForFunction(() => document.getElementById('eucaim-catalogue')?.dataset.query?.includes('"lung"'));
  const before = Number(await panel.getAttribute('data-total'));
  await panel.locator('details[data-facet="modality"] > summary').click();
  await panel.locator('details[data-facet="modality"] label[data-value="CT"] input').check();
  await page.waitForFunction(() => document.getElementById('eucaim-catalogue')?.dataset.query?.includes('"CT"'));
  const after = Number(await panel.getAttribute('data-total'));
  expect(after).toBeGreaterThan(0);
  expect(after).toBeLessThan(before);
  const metas = await panel.locator('[data-testid="eucaim-result"] .jp-eucaim-row-meta').allTextContents();
  expect(metas.length).toBeGreaterThan(0);
  for (const meta of metas) {
    expect(meta).toContain('CT');
  }
  await shot(page, '04-filtered');
  await shot(page, '04-filtered-page', false);

  // open the details of the flow dataset
  await page.getByTestId('eucaim-search').fill('tutorial');
  const row = panel.locator(`[data-testid="eucaim-result"][data-id="${FLOW_DATASET}"]`);
  await row.click();
  const details = page.getByTestId('eucaim-details');
  await expect(details).toContainText('Tutorial lung CT');
  await expect(details).toContainText('CC-BY-4.0');
  await expect(details).toContainText('In situ processing');
  await expect(page.getByTestId('eucaim-citation')).toContainText(FLOW_DATASET);
  await shot(page, '05-details');

  // request access: basket + purpose
  await page.getByTestId('eucaim-add-to-basket').click();
  await expect(page.getByTestId('eucaim-basket')).toContainText(FLOW_DATASET);
  await page.getByTestId('eucaim-purpose').fill('UI test: radiomics of lung CT');
  await shot(page, '06-basket');
  await page.getByTestId('eucaim-submit-request').click();
  const request = panel.locator('.jp-eucaim-request').first();
  await expect(request).toBeVisible();
  await expect(request.locator(`li[data-dataset="${FLOW_DATASET}"] .jp-eucaim-badge`)).toHaveText('Awaiting approval');
  const requestId = (await request.getAttribute('data-request'))!;
  expect(requestId).toMatch(/^REQ-/);
  await shot(page, '07-requested');

  // the data holder approves on the command line; the panel's polling shows the new status
  execFileSync(CLI, ['access', 'approve', requestId, '--as', HOLDER], { env: process.env, stdio: 'pipe' });
  await expect(request.locator(`li[data-dataset="${FLOW_DATASET}"] .jp-eucaim-badge`)).toHaveText('Approved', {
    timeout: 15000
  });
  await expect(page.getByTestId('eucaim-notice')).toContainText(`${FLOW_DATASET}: Approved`);
  await shot(page, '08-approved');

  // asking again for a dataset already approved: the panel says so and what to do
  await page.getByTestId('eucaim-tab-catalogue').click();
  await page.getByTestId('eucaim-add-to-basket').click();
  await page.getByTestId('eucaim-purpose').fill('asking twice');
  await page.getByTestId('eucaim-submit-request').click();
  const conflict = page.getByTestId('eucaim-error');
  await expect(conflict).toContainText('already has access');
  await expect(conflict).toContainText('My requests');
  await shot(page, '08b-already-approved');
  await conflict.getByRole('button', { name: 'Dismiss' }).click();
  await page.getByTestId('eucaim-tab-requests').click();

  // check out, then open the sandboxed notebook
  await page.getByTestId('eucaim-checkout').click();
  const checkout = panel.locator('.jp-eucaim-checkout').first();
  await expect(checkout).toContainText(FLOW_DATASET, { timeout: 60000 });
  await shot(page, '09-checked-out');
  await page.getByTestId('eucaim-open-notebook').click();
  await page.waitForSelector('.jp-NotebookPanel', { timeout: 60000 });
  await expect(page.locator('.jp-NotebookPanel .jp-Notebook-cell').first()).toContainText('checkout.open()');
  await expect(page.locator('.jp-NotebookPanel-toolbar').first()).toContainText('sandboxed', { timeout: 30000 });
  await page.notebook.runCell(0);
  const output = page.locator('.jp-NotebookPanel .jp-Cell').first().locator('.jp-OutputArea-output');
  await expect(output).toContainText(`dataset ${FLOW_DATASET}`, { timeout: 90000 });
  await expect(output).toContainText('.dcm');
  await expect(output).toContainText('6 files'); // 2 patients x 3 CT slices
  await page.screenshot({ path: path.join(ARTIFACTS, '10-sandboxed-notebook.png') });
});

test('a server that went away: the panel says so and does not hang', async ({ page }) => {
  await openPanel(page);
  // cut the server off for /eucaim/ calls only
  await page.route('**/eucaim/**', route => route.abort('connectionrefused'));
  await page.getByTestId('eucaim-search').fill('liver');
  const error = page.getByTestId('eucaim-error');
  await expect(error).toBeVisible({ timeout: 20000 });
  await expect(error).toContainText('does not answer');
  await shot(page, '11-server-gone');
  await page.unroute('**/eucaim/**');
  await page.getByTestId('eucaim-search').fill('liver cancer');
  await expect(error).toHaveCount(0, { timeout: 20000 });
});

test.describe('server extension of another version', () => {
  test.use({ autoGoto: false });

  test('the panel says which versions differ and how to fix it', async ({ page }) => {
    await page.route(/\/eucaim\/version/, route =>
      route.fulfill({ json: { version: '9.9.9', eucaim_lab: '9.9.9', user: 'researcher' } })
    );
    await page.goto();
    await openPanel(page);
    const problem = page.getByTestId('eucaim-server-problem');
    await expect(problem).toContainText('version 9.9.9');
    await expect(problem).toContainText('Reinstall the extension');
    await shot(page, '12-version-mismatch');
  });
});

void galata;
