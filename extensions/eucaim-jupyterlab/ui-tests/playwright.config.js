/**
 * Galata/Playwright configuration: the real JupyterLab (started by start-lab.sh on an isolated node) driven in
 * Debian's Chromium. No browser download, no video or trace (they need Playwright's own ffmpeg).
 */
const path = require('path');
const baseConfig = require('@jupyterlab/galata/lib/playwright-config');

const PORT = process.env.EUCAIM_UI_PORT || '8917';
const ROOT = path.resolve(__dirname, '.jupyter-root');
process.env.EUCAIM_UI_ROOT = ROOT;
process.env.EUCAIM_LAB_HOME = path.join(ROOT, 'node');
process.env.EUCAIM_LAB_USER = 'researcher';
process.env.EUCAIM_UI_PORT = PORT;

module.exports = {
  ...baseConfig,
  testDir: './tests',
  outputDir: './test-results',
  timeout: 120000,
  expect: { timeout: 20000 },
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    baseURL: `http://127.0.0.1:${PORT}`,
    appPath: '/lab',
    autoGoto: true,
    video: 'off',
    trace: 'off',
    screenshot: 'only-on-failure',
    viewport: { width: 1400, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-dev-shm-usage'
      ]
    }
  },
  webServer: {
    command: 'bash start-lab.sh',
    url: `http://127.0.0.1:${PORT}/lab`,
    timeout: 240000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe'
  }
};
