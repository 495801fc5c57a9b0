// The dashboard's static files: the page, its script and style (from
// dashboard-page.ts and dashboard-script.ts) and uPlot's script and style, read
// once from the installed uplot package (a dependency of Hopper, so the page
// works offline and behind firewalls). They hold no data, so they are served
// without the admin token; the data the script fetches needs it.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { HopperError } from '../errors.js';
import { DASHBOARD_CSS, DASHBOARD_HTML } from './dashboard-page.js';
import { DASHBOARD_JS } from './dashboard-script.js';

export interface StaticAsset {
  contentType: string;
  body: Buffer;
}

const UPLOT_FILES = {
  '/uplot.iife.min.js': { file: 'uplot/dist/uPlot.iife.min.js', contentType: 'text/javascript; charset=utf-8' },
  '/uplot.min.css': { file: 'uplot/dist/uPlot.min.css', contentType: 'text/css; charset=utf-8' },
};

export function loadDashboardAssets(): Map<string, StaticAsset> {
  const assets = new Map<string, StaticAsset>([
    ['/', { contentType: 'text/html; charset=utf-8', body: Buffer.from(DASHBOARD_HTML) }],
    ['/dashboard.js', { contentType: 'text/javascript; charset=utf-8', body: Buffer.from(DASHBOARD_JS) }],
    ['/dashboard.css', { contentType: 'text/css; charset=utf-8', body: Buffer.from(DASHBOARD_CSS) }],
  ]);
  const require = createRequire(import.meta.url);
  for (const [path, { file, contentType }] of Object.entries(UPLOT_FILES)) {
    try {
      assets.set(path, { contentType, body: readFileSync(require.resolve(file)) });
    } catch (err) {
      const message = `The dashboard's chart library is missing (${file}): reinstall Hopper's dependencies (npm ci).`;
      throw new HopperError('HOPPER_INTERNAL', message, { cause: err });
    }
  }
  return assets;
}
