import { describe, expect, it } from 'vitest';
import { OutgoingCommand, ProducedCommand, type Command } from '../../src/core/command.ts';
import { deliveriesOf, EXCERPT_CHARS, MESSAGES_PER_JOB, splitIntoJobs, type JobEntry, type TakenJob } from '../../src/transports/bullmq/job-data.ts';

const job = (data: string, count = 1, first = 10): TakenJob => ({ id: 'j1', first, count, data, unreadable: '' });

describe('reading a job, whoever wrote it', () => {
  it('delivers each [key, value] pair at its own position', () => {
    expect(deliveriesOf(job(JSON.stringify({ m: [['a', '1'], ['b', '2']] }), 2))).toEqual([
      { key: 'a', value: '1', position: 10 },
      { key: 'b', value: '2', position: 11 },
    ]);
  });

  it('turns every other shape into one unreadable delivery at its first position, saying why, however many positions it has', () => {
    const cases: [data: string, count: number, reason: RegExp][] = [
      ['not JSON', 1, /data is not JSON/],
      ['"a string"', 1, /got a string of 8 characters/],
      ['[1, 2]', 1, /got an array of 2/],
      ['{"m": "not an array"}', 1, /got a string of 12 characters as m/],
      ['{"m": null}', 1, /got null as m/],
      ['{"m": []}', 1, /at least one entry in m, got none/],
      // cjson read three entries where JSON.parse reads two (or the data changed since).
      ['{"m": [["a", "1"], ["b", "2"]]}', 3, /m has 2 entries, counted 3 when the job was first taken/],
      // Another writer's `n` that its `m` does not bear out, more or fewer: `take` counted the job by it.
      ['{"n":1000,"m":[["a","1"]]}', 1000, /m has 1 entries, counted 1000 when the job was first taken \(from n/],
      ['{"n":1,"m":[["a","1"],["b","2"]]}', 1, /m has 2 entries, counted 1/],
      ['{"n":3,"m":[', 3, /data is not JSON/],
    ];
    for (const [data, count, reason] of cases) {
      const deliveries = deliveriesOf(job(data, count));
      expect(deliveries.map((d) => d.position), data).toEqual([10]);
      expect(deliveries[0]!.unreadable, data).toMatch(reason);
      expect(deliveries[0]!.value).toBe(data);
    }
  });

  it('delivers the pairs of a job among entries that are not pairs, each of those unreadable on its own', () => {
    const deliveries = deliveriesOf(job(JSON.stringify({ m: [['a', '1'], null, ['k', 5], ['a', 'b', 'c'], 'x', ['b', '2']] }), 6));
    expect(deliveries.map((d) => [d.position, d.key, d.value, d.unreadable === undefined])).toEqual([
      [10, 'a', '1', true],
      [11, '', 'null', false],
      [12, '', '["k",5]', false],
      [13, '', '["a","b","c"]', false],
      [14, '', '"x"', false],
      [15, 'b', '2', true],
    ]);
    expect(deliveries[1]!.unreadable).toBe('job j1: expected entry 1 of m to be a command object or a [key, value] pair of strings, got null');
  });

  it('never throws on entries nested deeper than JSON.stringify can recurse (data rewritten after its first take)', () => {
    const deep = (depth: number): unknown => {
      let value: unknown = [];
      for (let i = 0; i < depth; i++) value = [value];
      return value;
    };
    const data = `{"m":[${JSON.stringify(deep(500))}, {"id":"a","type":"t","key":"k","sentAt":1,"payload":DEEP}]}`.replace('DEEP', `${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    const [array, object] = deliveriesOf(job(data, 2));
    expect(array!.unreadable).toMatch(/expected entry 0 of m to be a command object/);
    expect(object).toMatchObject({ key: 'k', position: 11 });
    expect(() => object!.value).not.toThrow();
    const unreadable = deliveriesOf(job(`{"m":[${'['.repeat(20_000)}${']'.repeat(20_000)}]}`, 1));
    expect(unreadable[0]!.unreadable).toMatch(/expected entry 0 of m/);
  });

  it('keeps only an excerpt of what it could not read', () => {
    const huge = 'x'.repeat(EXCERPT_CHARS * 4);
    const [delivery] = deliveriesOf({ id: 'big', first: 0, count: 1, data: huge.slice(0, EXCERPT_CHARS), unreadable: 'the job data is 9999999 bytes, over the limit of 16' });
    expect(delivery).toMatchObject({ position: 0, unreadable: 'job big: the job data is 9999999 bytes, over the limit of 16' });
    const [entry] = deliveriesOf(job(JSON.stringify({ m: [[huge]] })));
    expect(entry!.value.length).toBeLessThan(EXCERPT_CHARS + 100);
    expect(entry!.value).toMatch(/characters in all\)$/);
  });
});

describe('splitting an enqueue into jobs', () => {
  const message = (i: number, size = 10) => ({ key: `k${i}`, value: 'v'.repeat(size) });
  const keyOf = (entry: JobEntry) => (Array.isArray(entry) ? (entry as readonly [string, string])[0] : (entry as Command).key);
  const produced = (key: string, payload: unknown) => new OutgoingCommand(new ProducedCommand('origin', 7, 'add', key, payload, 1_700_000_000_000, undefined));

  it('writes a command it was handed as an object, so it is encoded once, and reads it back as the same command', () => {
    const message = produced('k1', { by: 2, note: 'caf\u00e9 😀', list: [1, 'two'] });
    const [data] = splitIntoJobs([message, { key: 'k2', value: 'encoded elsewhere' }], 1 << 20);
    const json = JSON.stringify(data);
    expect(json).not.toContain('\\"');
    const [object, pair] = deliveriesOf({ id: 'j', first: 3, count: 2, data: json, unreadable: '' });
    expect(object).toMatchObject({ key: 'k1', position: 3, json: JSON.parse(message.value) });
    expect(JSON.parse(object!.value)).toEqual(JSON.parse(message.value));
    expect(pair).toEqual({ key: 'k2', value: 'encoded elsewhere', position: 4 });
  });

  it('writes a pair for a command whose JSON would hold a lone surrogate escape, which Redis cannot decode', () => {
    for (const payload of [{ note: 'x\ud800' }, { ['k\udc00']: 1 }, { deep: [[{ s: '\ud83d' }]] }]) {
      const message = produced('k1', payload);
      expect(splitIntoJobs([message], 1 << 20)).toEqual([{ n: 1, m: [['k1', message.value]] }]);
    }
  });

  it('caps a job at MESSAGES_PER_JOB commands and at maxJobBytes of JSON, in order', () => {
    const byCount = splitIntoJobs(Array.from({ length: MESSAGES_PER_JOB + 5 }, (_, i) => message(i)), 16 << 20);
    expect(byCount.map((j) => j.m.length)).toEqual([MESSAGES_PER_JOB, 5]);
    // Its count first, as `take` reads it without decoding the rest.
    expect(JSON.stringify(byCount[0])).toMatch(new RegExp(`^\\{"n":${MESSAGES_PER_JOB},"m":\\[`));
    expect(JSON.stringify(byCount[1])).toMatch(/^\{"n":5,"m":\[/);
    const messages = Array.from({ length: 10 }, (_, i) => message(i, 1000));
    const bySize = splitIntoJobs(messages, 20_000);
    expect(bySize.flatMap((j) => j.m.map(keyOf))).toEqual(messages.map((m) => m.key));
    for (const data of bySize) expect(Buffer.byteLength(JSON.stringify(data))).toBeLessThanOrEqual(20_000);
    expect(bySize.length).toBeGreaterThan(1);
  });

  it('measures a large message exactly rather than refusing it on the cheap bound', () => {
    const [data] = splitIntoJobs([message(0, 5000)], 6000);
    expect(Buffer.byteLength(JSON.stringify(data))).toBeLessThanOrEqual(6000);
  });

  it('refuses what Redis could not decode or hold as one job, naming the field', () => {
    expect(() => splitIntoJobs([message(0), { key: 'a\ud800', value: 'v' }], 1 << 20)).toThrow(expect.objectContaining({ code: 'INVALID_COMMAND', field: 'key', message: expect.stringContaining('message 1: expected well-formed Unicode, got a lone surrogate') }));
    expect(() => splitIntoJobs([{ key: 'a', value: 'v\udc00' }], 1 << 20)).toThrow(expect.objectContaining({ field: 'value' }));
    expect(() => splitIntoJobs([message(0, 5000)], 4000)).toThrow(expect.objectContaining({ code: 'INVALID_COMMAND', field: 'size' }));
    expect(splitIntoJobs([{ key: '😀', value: 'v' }], 1 << 20)).toEqual([{ n: 1, m: [['😀', 'v']] }]);
  });
});
