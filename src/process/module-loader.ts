import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors.ts';

/** A module path or package that could not be found (as opposed to one that failed while loading). */
export class ModuleNotFound extends ConfigError {}

/**
 * Imports a module named in configuration: a path (absolute, or relative to the working
 * directory) or a package name. A `.ts` module needs a TypeScript loader: when this
 * process runs without one, tsx is registered if it is installed. Failing to load it is a
 * configuration error naming the config field, not a crash.
 */
export async function importConfigured(specifier: string, field: string): Promise<Record<string, unknown>> {
  const isPath = specifier.startsWith('.') || isAbsolute(specifier);
  const target = isPath ? pathToFileURL(resolve(specifier)).href : specifier;
  try {
    if (/\.[cm]?ts$/.test(specifier)) await typeScriptLoader(specifier, field);
    return (await import(target)) as Record<string, unknown>;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    const missing = code === 'ERR_MODULE_NOT_FOUND' && (isPath || String((error as Error).message).includes(`'${specifier}'`));
    const issue = `${field}: expected a module that can be imported, got ${JSON.stringify(specifier)} (${code ?? (error as Error).message})`;
    throw missing ? new ModuleNotFound([issue]) : new ConfigError([issue]);
  }
}

/**
 * Makes `.ts` imports work: nothing to do under tsx (or Node's own type stripping);
 * otherwise registers tsx if the user has it installed, or explains what is needed.
 */
async function typeScriptLoader(specifier: string, field: string): Promise<void> {
  const native = (process.features as { typescript?: unknown }).typescript;
  if ((native !== undefined && native !== false) || process.execArgv.some((arg) => arg.includes('tsx'))) return;
  const tsx = 'tsx/esm/api';
  try {
    const { register } = (await import(tsx)) as { register: () => unknown };
    register();
  } catch {
    throw new ConfigError([
      `${field}: expected a JavaScript module (.js, .mjs) or a TypeScript loader to import ${JSON.stringify(specifier)}, got no tsx installed (npm install --save-dev tsx, or run node --import tsx)`,
    ]);
  }
}

/** The named export of `module`, checked to be a function (a factory or a class). */
export function exportedFunction<T>(module: Record<string, unknown>, name: string, field: string, from: string): T {
  const value = module[name];
  if (typeof value !== 'function') {
    const exports = Object.keys(module).join(', ') || 'nothing';
    throw new ConfigError([`${field}: expected ${JSON.stringify(from)} to export a function ${name}, got exports: ${exports}`]);
  }
  return value as T;
}
