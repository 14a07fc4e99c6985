// `npm run build` (and `prepare`, so `npm ci` and `npm install` build too): compiles src/
// to dist/ (ESM JavaScript, .d.ts, source maps with the sources inlined) from a clean
// directory, so no output of a deleted source ships, then copies the one non-TypeScript
// file the code opens at run time.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';

const root = new URL('../', import.meta.url);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(new URL('dist', root), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
cpSync(new URL('src/bench/scenarios/python-manager-dict.py', root), new URL('dist/bench/scenarios/python-manager-dict.py', root));
