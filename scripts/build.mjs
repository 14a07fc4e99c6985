// `npm run build` (and `prepare`, so `npm ci` and `npm install` build too): compiles src/
// to dist/ (ESM JavaScript, .d.ts, source maps with the sources inlined) from a clean
// directory, so no output of a deleted source ships, then copies the non-TypeScript files
// the code opens at run time: the bench's Python scenario, and the dashboard page with
// uPlot vendored beside it (from node_modules, so the page needs no CDN and works offline).
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('../', import.meta.url);
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');

rmSync(new URL('dist', root), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
cpSync(new URL('src/bench/scenarios/python-manager-dict.py', root), new URL('dist/bench/scenarios/python-manager-dict.py', root));
cpSync(new URL('src/dashboard/page', root), new URL('dist/dashboard/page', root), { recursive: true });
// uPlot's directory, found through a file its package exports.
const uplot = new URL('../', `file://${require.resolve('uplot/dist/uPlot.min.css')}`);
for (const [from, to] of [['dist/uPlot.iife.min.js', 'uPlot.iife.min.js'], ['dist/uPlot.min.css', 'uPlot.min.css'], ['LICENSE', 'uPlot.LICENSE']]) {
  cpSync(new URL(from, uplot), new URL(`dist/dashboard/page/vendor/${to}`, root));
}
