// URLs in configuration and messages: the default Redis URL, and credentials kept out of every message and log line.

/** The Redis URL used when none is configured: `REDIS_URL`, else a local server. */
export function defaultRedisUrl(): string {
  return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** The URL without its password, fit for messages and logs. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return redactSecrets(url);
  }
}

/**
 * Passwords in URLs anywhere in `text` (`//user:password@host`, even in a URL that does
 * not parse), replaced by `***`.
 */
export function redactSecrets(text: string): string {
  return text.replace(/(\/\/[^\s:@/"']*:)[^\s@/"']*@/g, '$1***@');
}
