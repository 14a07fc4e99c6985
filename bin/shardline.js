#!/usr/bin/env node
// The `shardline` command: runs the compiled CLI (`npm run build`, run by `prepare` on
// `npm install`/`npm ci`, writes dist/). The tests run the TypeScript sources instead.
await import('../dist/cli/main.js');
