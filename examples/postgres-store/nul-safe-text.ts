/**
 * PostgreSQL `text` cannot hold the NUL character, but an entity key, a command id or an
 * origin may be any string (a foreign writer can put anything in a queue). These map every
 * string to one PostgreSQL accepts, and back, leaving every other string as it is: a string
 * that holds a NUL, or begins with U+FFFF (a noncharacter no text should), is stored as
 * U+FFFF followed by the string with `\` doubled and NUL written `\0`.
 */
const MARK = '\uffff';

/** The string as it is stored in a `text` column. */
export function toText(value: string): string {
  if (!value.includes('\u0000') && !value.startsWith(MARK)) return value;
  return MARK + value.replaceAll('\\', '\\\\').replaceAll('\u0000', '\\0');
}

/** The string a `text` column holds, as it was given to {@link toText}. */
export function fromText(text: string): string {
  if (!text.startsWith(MARK)) return text;
  return text.slice(1).replace(/\\([\\0])/g, (_, escaped: string) => (escaped === '0' ? '\u0000' : '\\'));
}
