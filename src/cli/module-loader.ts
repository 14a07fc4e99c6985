import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../core/errors.ts';

/**
 * Imports a module named in configuration: a path (absolute, or relative to the working
 * directory) or a package name. Failing to load it is a configuration error naming the
 * config field, not a crash.
 */
export async function importConfigured(specifier: string, field: string): Promise<Record<string, unknown>> {
  const target = specifier.startsWith('.') || isAbsolute(specifier) ? pathToFileURL(resolve(specifier)).href : specifier;
  try {
    return (await import(target)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ConfigError([`${field}: expected a module that can be imported, got ${JSON.stringify(specifier)} (${code ?? (error as Error).message})`]);
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
