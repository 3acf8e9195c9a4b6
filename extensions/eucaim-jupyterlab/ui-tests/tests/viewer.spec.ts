/**
 * The offline image viewer (eucaim_lab.widgets.view) in the real JupyterLab, inside a sandboxed kernel:
 *   - one demo patient (CT + DICOM SEG from eucaim_lab.demo) is generated and ingested into the UI node, requested,
 *     approved and checked out through the command line;
 *   - the server extension writes a notebook on the checkout's sandboxed kernel; its cell shows the SEG case;
 *   - the widget's screenshot must show the red mask overlay and grey CT pixels; changing the plane and the
 *     slice must change the image (a slice away from the tumour shows no mask).
 * The pixels are decoded from the screenshot PNG itself (in the page, through a canvas: no PNG library needed).
 * Screenshots: ui-tests/artifacts/viewer-sandbox*.png.
 */
import { expect, IJupyterLabPageFixture, test } from '@jupyterlab/galata';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');
const CLI =
  process.env.EUCAIM_LAB_CLI ??
  path.resolve(__dirname, '..', '..', '..', '..', '.venv', 'bin', 'eucaim-lab');
const PYTHON = path.join(path.dirname(CLI), 'python');
const DATASET = 'viewer-lung-ct';
const HOLDER = 'hospital-a';

/** The cell the user runs: the SEG case of the checkout, in the offline viewer. */
const VIEWER_CELL = [
  'import os',
  'from eucaim_lab.imaging import discover_cases',
  'from eucaim_lab.widgets import view',
  '',
  "cases = discover_cases(os.environ['EUCAIM_CHECKOUT'])",
  "case = next(c for c in cases if c.mask.kind == 'seg')",
  'print(case.case_id, case.mask.kind)',
  'view(case)'
].join('\n');

/** Writes one demo lung CT patient (CT series + SEG + RTSTRUCT) and its clinical table into argv[1]. */
const GENERATE = [
  'import sys',
  'from eucaim_lab.demo import generate_cohort',
  'info = generate_cohort(sys.argv[1], seed=0, n_patients=1)',
  'print(info.dicom_dir)',
  'print(info.clinical_csv)'
].join('\n');

fs.mkdirSync(ARTIFACTS, { recursive: true });

type Page = IJupyterLabPageFixture;

function cli(args: string[]): string {
  return execFileSync(CLI, args, { env: process.env, stdio: 'pipe', encoding: 'utf-8' });
}

/** A checked-out, approved copy of one generated demo patient; returns the checkout id. */
function checkoutDemoPatient(): string {
  let known = true;
  try {
    cli(['catalogue', 'show', DATASET]);
  } catch {
    known = false; // exit 1: not in the catalogue yet
  }
  if (!known) {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'eucaim-viewer-'));
    try {
      const out = path.join(tmp, 'cohort');
      const [dicom, clinical] = execFileSync(PYTHON, ['-c', GENERATE, out], { encoding: 'utf-8' }).trim().split('\n');
      cli([
        'ingest', dicom, '--dataset', DATASET, '--title', 'Viewer test lung CT (one demo patient)',
        '--clinical', clinical, '--data-holder', HOLDER, '--access-condition', 'IN_SITU_PROCESSING',
        '--condition', 'lung-cancer', '--body-part', 'lung', '--json'
      ]);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  const request = JSON.parse(cli(['access', 'request', DATASET, '--purpose', 'UI test: offline viewer', '--json']));
  cli(['access', 'approve', request.request_id, '--as', HOLDER, '--json']);
  const made = JSON.parse(cli(['checkout', request.request_id, '--json']));
  expect(made).toHaveLength(1);
  return made[0].checkout_id as string;
}

interface PixelStats {
  width: number;
  height: number;
  /** mask-coloured pixels: red clearly dominant */
  red: number;
  /** neutral grey pixels between black and white, and how many distinct grey levels they have */
  grey: number;
  greyLevels: number;
  /** a cheap digest of the pixels, to tell two renderings apart */
  digest: number;
}

/**
 * Decode a PNG screenshot in the page (Image + canvas) and count its pixels inside `crop` (CSS pixels of the
 * screenshot; the viewport has device scale 1).
 */
async function pixelStats(
  page: Page,
  png: Buffer,
  crop: { x: number; y: number; width: number; height: number }
): Promise<PixelStats> {
  return page.evaluate(
    async ({ b64, crop }) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = Math.round(crop.width);
      canvas.height = Math.round(crop.height);
      const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
      ctx.drawImage(img, -Math.round(crop.x), -Math.round(crop.y));
      const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let red = 0;
      let grey = 0;
      let digest = 0;
      const levels = new Set<number>();
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
        digest = (Math.imul(digest, 31) + r + 7 * g + 13 * b) | 0;
        if (r > 150 && r - g > 60 && r - b > 60) {
          red++;
        } else if (Math.abs(r - g) <= 6 && Math.abs(g - b) <= 6 && r >= 30 && r <= 225) {
          grey++;
          levels.add(r);
        }
      }
      return { width: canvas.width, height: canvas.height, red, grey, greyLevels: levels.size, digest };
    },
    { b64: png.toString('base64'), crop }
  );
}

/** Screenshot the whole widget; count the pixels where the rendered image sits in it. */
async function shootViewer(page: Page, name: string): Promise<PixelStats> {
  const widget = page.locator('.eucaim-viewer').first();
  const image = widget.locator('img.eucaim-viewer-image');
  await expect(image).toBeVisible();
  await page.waitForFunction(
    el => (el as HTMLImageElement).complete && (el as HTMLImageElement).naturalWidth > 0,
    await image.elementHandle()
  );
  const png = await widget.screenshot({ path: path.join(ARTIFACTS, `${name}.png`) });
  const outer = (await widget.boundingBox())!;
  const inner = (await image.boundingBox())!;
  return pixelStats(page, png, {
    x: inner.x - outer.x,
    y: inner.y - outer.y,
    width: inner.width,
    height: inner.height
  });
}

/** Wait until the kernel has sent a new PNG for the image (ipywidgets replaces the blob URL). */
async function waitForNewImage(page: Page, before: string): Promise<void> {
  await page.waitForFunction(
    old => {
      const el = document.querySelector('.eucaim-viewer img.eucaim-viewer-image') as HTMLImageElement | null;
      return !!el && el.src !== old && el.complete && el.naturalWidth > 0;
    },
    before,
    { timeout: 30000 }
  );
}

test('offline viewer in a sandboxed kernel shows the CT slice with its mask', async ({ page }) => {
  test.setTimeout(180000);
  const started = Date.now();
  // the widget manager (jupyterlab_widgets) says in the console when it cannot build a view or a model
  const widgetErrors: string[] = [];
  page.on('console', msg => {
    if (msg.type() === 'error' && /widget|model|comm/i.test(msg.text())) {
      widgetErrors.push(msg.text());
    }
  });
  const checkoutId = checkoutDemoPatient();

  // the server extension installs the sandboxed kernelspec (in the server's Jupyter data dir) and writes the
  // notebook in the checkout's workspace; its first cell becomes the viewer cell
  const made = await page.request.post(`/eucaim/checkouts/${checkoutId}/notebook`, {
    data: { name: 'viewer.ipynb' }
  });
  expect(made.status()).toBe(201);
  const { path: nbPath, kernel_name: kernelName } = await made.json();
  const contentsUrl = `/api/contents/${nbPath.split('/').map(encodeURIComponent).join('/')}`;
  const nb = await (await page.request.get(`${contentsUrl}?content=1&type=notebook`)).json();
  expect(nb.content.metadata.kernelspec.name).toBe(kernelName);
  nb.content.cells[0].source = VIEWER_CELL;
  const saved = await page.request.put(contentsUrl, {
    data: { type: 'notebook', format: 'json', content: nb.content }
  });
  expect(saved.ok()).toBe(true);

  // as the panel does: the kernelspec is new, JupyterLab must list it before the notebook opens on it
  const listed = await page.evaluate(
    async ({ p, k }) => {
      const app = (window as any).jupyterapp;
      await app.serviceManager.kernelspecs.refreshSpecs();
      const known = !!app.serviceManager.kernelspecs.specs?.kernelspecs[k];
      if (known) {
        await app.commands.execute('docmanager:open', { path: p, factory: 'Notebook', kernel: { name: k } });
      }
      return known;
    },
    { p: nbPath, k: kernelName }
  );
  expect(listed).toBe(true);
  await page.waitForSelector('.jp-NotebookPanel', { timeout: 60000 });
  await expect(page.locator('.jp-NotebookPanel-toolbar').first()).toContainText('sandboxed', { timeout: 30000 });
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').first()).toContainText("c.mask.kind == 'seg'");
  const ranAt = Date.now();
  await page.notebook.runCell(0);
  const output = page.locator('.jp-NotebookPanel .jp-Cell').first().locator('.jp-OutputArea-output');
  await expect(output.first()).toContainText('seg', { timeout: 90000 });
  // the widget itself, not its text fallback ("SliceViewer(...)" / "VBox(...)" when the front end is missing)
  await expect(page.locator('.eucaim-viewer img.eucaim-viewer-image')).toBeVisible({ timeout: 60000 });
  await expect(page.locator('.jp-NotebookPanel .jp-Cell').first().locator('.jp-OutputArea')).not.toContainText(
    'Traceback'
  );
  const renderedMs = Date.now() - ranAt;
  expect(widgetErrors).toEqual([]);

  // axial slice through the tumour: red overlay and grey CT, a square 384 px image
  const axial = await shootViewer(page, 'viewer-sandbox');
  console.log(JSON.stringify({ plane: 'axial', ...axial }));
  const area = axial.width * axial.height;
  expect(axial.width).toBeGreaterThan(300);
  expect(axial.red).toBeGreaterThan(Math.max(300, area * 0.003));
  expect(axial.grey).toBeGreaterThan(area * 0.05);
  expect(axial.greyLevels).toBeGreaterThan(10);
  await page.screenshot({ path: path.join(ARTIFACTS, 'viewer-sandbox-notebook.png') });

  // the red is the overlay, not something in the CT: hiding the mask removes it and keeps the grey image
  const image = page.locator('.eucaim-viewer img.eucaim-viewer-image');
  const showMask = page.locator('.eucaim-viewer .widget-checkbox input[type="checkbox"]');
  let src = (await image.getAttribute('src'))!;
  await showMask.uncheck();
  await waitForNewImage(page, src);
  const hidden = await shootViewer(page, 'viewer-sandbox-mask-hidden');
  console.log(JSON.stringify({ plane: 'axial', mask: 'hidden', ...hidden }));
  expect(hidden.red).toBe(0);
  expect(hidden.grey).toBeGreaterThan(area * 0.05);
  src = (await image.getAttribute('src'))!;
  await showMask.check();
  await waitForNewImage(page, src);

  // another plane: the kernel renders the coronal slice through the tumour (24 slices of 2.5 mm x 64 mm wide:
  // not square any more)
  src = (await image.getAttribute('src'))!;
  await page.locator('.eucaim-viewer .widget-toggle-buttons button', { hasText: 'coronal' }).click();
  await waitForNewImage(page, src);
  const coronal = await shootViewer(page, 'viewer-sandbox-coronal');
  console.log(JSON.stringify({ plane: 'coronal', ...coronal }));
  expect(coronal.digest).not.toBe(axial.digest);
  expect(coronal.height).toBeLessThan(coronal.width);
  expect(coronal.red).toBeGreaterThan(100);
  expect(coronal.grey).toBeGreaterThan(coronal.width * coronal.height * 0.05);

  // the slice slider: the first coronal slice lies outside the body and the tumour, so no mask there
  src = (await image.getAttribute('src'))!;
  const readout = page.locator('.eucaim-viewer .widget-slider .widget-readout').first();
  await readout.click();
  await readout.press('Control+A');
  await readout.pressSequentially('0');
  await readout.press('Enter');
  await waitForNewImage(page, src);
  const edge = await shootViewer(page, 'viewer-sandbox-slice0');
  console.log(JSON.stringify({ plane: 'coronal', slice: 0, ...edge }));
  expect(edge.digest).not.toBe(coronal.digest);
  expect(edge.red).toBe(0);
  expect(widgetErrors).toEqual([]);
  console.log(JSON.stringify({ viewer_test_s: (Date.now() - started) / 1000, cell_to_widget_ms: renderedMs }));

  // shut the sandboxed kernel down (the notebook lies outside Galata's per-test folder, which it cleans)
  const sessions = await (await page.request.get('/api/sessions')).json();
  for (const session of sessions.filter((s: { path: string }) => s.path === nbPath)) {
    expect((await page.request.delete(`/api/sessions/${session.id}`)).ok()).toBe(true);
  }
});
