import { ConfigError } from '../core/errors.ts';
import type { AnyDomain } from '../core/domain.ts';
import { accounts } from '../domains/accounts.ts';
import { domainSelector } from '../config/load.ts';
import type { DomainConfig } from '../config/schema.ts';
import { importConfigured, ModuleNotFound } from './module-loader.ts';

/** The domains a configuration can name without a module. */
const BUILT_IN: Readonly<Record<string, AnyDomain>> = { accounts };

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * The domain `config.domain` names, loaded: a built-in one by name, or the `defineDomain`
 * result a module exports (by default, or as `domain`). A plain word that is not built in
 * is imported as a package. Anything else is a `ConfigError` saying what was found.
 */
export async function loadDomain(config: DomainConfig): Promise<AnyDomain> {
  const selected = typeof config === 'string' ? domainSelector(config) : config;
  if (typeof selected === 'string') {
    const builtIn = BUILT_IN[selected];
    if (builtIn !== undefined) return builtIn;
    return domainOf(await importConfigured(selected, 'domain'), selected, 'domain');
  }
  return domainOf(await importConfigured(selected.module, 'domain.module'), selected.module, 'domain.module');
}

/**
 * The name of the domain `config.domain` names, for commands that read by name only
 * (`inspect`, `dead-letters`): a module is loaded as for `loadDomain`, and a plain word
 * that is neither built in nor an installed package is taken as the name itself.
 */
export async function domainName(config: DomainConfig): Promise<string> {
  const selected = typeof config === 'string' ? domainSelector(config) : config;
  if (typeof selected === 'string' && BUILT_IN[selected] === undefined) {
    try {
      return (await loadDomain(selected)).name;
    } catch (error) {
      if (!(error instanceof ModuleNotFound) || !NAME.test(selected)) throw error;
      return selected;
    }
  }
  return (await loadDomain(selected)).name;
}

/** Whether `value` has the shape `defineDomain(...).handle(...)` returns. */
export function isDomain(value: unknown): value is AnyDomain {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  return (
    typeof candidate.name === 'string' &&
    typeof candidate.initial === 'function' &&
    typeof candidate.schemas === 'object' && candidate.schemas !== null &&
    typeof candidate.handlers === 'object' && candidate.handlers !== null
  );
}

function domainOf(module: Record<string, unknown>, from: string, field: string): AnyDomain {
  for (const candidate of [module.default, module.domain]) if (isDomain(candidate)) return candidate;
  throw new ConfigError([
    `${field}: expected ${JSON.stringify(from)} to export a defineDomain(...) result (name, schemas, handlers, initial) as its default export or as "domain", got ${describeExports(module)}`,
  ]);
}

function describeExports(module: Record<string, unknown>): string {
  const names = Object.keys(module);
  if (names.length === 0) return 'no exports';
  return names.map((name) => `${name} (${describe(module[name])})`).join(', ');
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value !== 'object') return typeof value;
  if (Array.isArray(value)) return 'an array';
  const keys = Object.keys(value);
  return keys.length === 0 ? 'an empty object' : `an object with ${keys.slice(0, 6).join(', ')}${keys.length > 6 ? ', ...' : ''}`;
}
