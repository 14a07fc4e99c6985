/**
 * The `shardline` entry point (`bin/shardline.js` imports it): runs the command line and
 * exits with its code once the command has closed everything it opened.
 */
import { runCli } from './program.ts';

process.exit(await runCli(process.argv.slice(2)));
