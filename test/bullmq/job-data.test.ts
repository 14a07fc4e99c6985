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

  it('turns a short entry it cannot stand a command for into an unreadable delivery, saying why, and reads the rest', () => {
    const entries = [
      [1, 0, 'add', 'a', { by: 1 }],
      [2, 0, 'add', 'b'],
      [3, 'late', 'add', 'c', { by: 1 }],
      [4, 0, 'add', 'd', { by: 1 }, 7],
      [5, 0, 'add', 'e', { by: 1 }, 'reply-here', 'more'],
    ];
    const deliveries = deliveriesOf(job(JSON.stringify({ n: 5, m: entries, o: 'or', t: 100 }), 5));
    expect(deliveries[0]).toMatchObject({ key: 'a', position: 10, json: { id: 'or1', type: 'add', key: 'a', payload: { by: 1 }, sentAt: 100, origin: 'or', seq: 1 } });
    expect(deliveries.slice(1).map((d) => d.unreadable)).toEqual([
      'job j1: entry 1 of m is a short entry [seq, dt, type, key, payload, replyTo?] of 4 elements',
      'job j1: entry 2 of m is a short entry whose dt is a string of 4 characters, not a number',
      'job j1: entry 3 of m is a short entry whose replyTo is number 7, not a string',
      'job j1: entry 4 of m is a short entry [seq, dt, type, key, payload, replyTo?] of 7 elements',
    ]);
    expect(deliveries[1]!.value).toBe('[2,0,"add","b"]');
    for (const [o, t, why] of [[undefined, 100, 'undefined undefined'], ['or', undefined, 'undefined undefined'], [5, 100, 'number 5'], ['or', '100', 'a string of 3 characters']] as const) {
      const [delivery] = deliveriesOf(job(JSON.stringify({ n: 1, m: [entries[0]], o, t }), 1));
      expect(delivery!.unreadable, `o ${String(o)}, t ${String(t)}`).toMatch(/^job j1: entry 0 of m is a short entry in a job without its origin o \(a string\) and time t \(a number\)/);
      expect(delivery!.unreadable).toContain(why);
    }
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
  // A command that is not a producer's (an owner's follow-up, say): written whole, as an object.
  const produced = (key: string, payload: unknown) => new OutgoingCommand({ id: 'origin7', type: 'add', key, payload, sentAt: 1_700_000_000_000, origin: 'origin', seq: 7 });

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

  it("writes a producer's commands as short entries under the job's origin and time, and reads each back as the whole command", () => {
    const at = 1_700_000_000_000;
    const a0 = new ProducedCommand('origin-a', 0, 'add', 'k0', { by: 1 }, at, undefined);
    const a1 = new ProducedCommand('origin-a', 1, 'add', 'k1', { by: 2, note: 'caf\u00e9 😀' }, at + 5, 'reply-to');
    const b0 = new ProducedCommand('origin-b', 0, 'add', 'k2', { by: 3 }, at, undefined);
    const pair = { key: 'k3', value: 'encoded elsewhere' };
    const [data, ...rest] = splitIntoJobs([a0, a1, b0, pair], 1 << 20);
    expect(rest).toEqual([]);
    expect(data).toEqual({ n: 4, m: [[0, 0, 'add', 'k0', { by: 1 }], [1, 5, 'add', 'k1', { by: 2, note: 'caf\u00e9 😀' }, 'reply-to'], b0, ['k3', 'encoded elsewhere']], o: 'origin-a', t: at });
    const json = JSON.stringify(data);
    // `take` reads the count from the first bytes; the origin and time follow the entries.
    expect(json).toMatch(/^\{"n":4,"m":\[\[0,0,"add","k0",\{"by":1\}\],/);
    const deliveries = deliveriesOf({ id: 'j', first: 3, count: 4, data: json, unreadable: '' });
    for (const [i, command] of [a0, a1, b0].entries()) {
      expect(deliveries[i]).toMatchObject({ key: command.key, position: 3 + i, json: JSON.parse(command.value) });
      expect(JSON.parse(deliveries[i]!.value)).toEqual(JSON.parse(command.value));
    }
    expect(deliveries[3]).toEqual({ key: 'k3', value: 'encoded elsewhere', position: 6 });
  });

  it("keeps a job with short entries within maxJobBytes, its origin and time counted, and starts each job's own", () => {
    const commands = Array.from({ length: 40 }, (_, i) => new ProducedCommand('o'.repeat(16), i, 'add', `key-${i}`, { by: i, pad: 'p'.repeat(40) }, 1_700_000_000_000 + i, undefined));
    const jobs = splitIntoJobs(commands, 1500);
    expect(jobs.length).toBeGreaterThan(1);
    for (const data of jobs) {
      expect(Buffer.byteLength(JSON.stringify(data))).toBeLessThanOrEqual(1500);
      expect(data).toMatchObject({ o: 'o'.repeat(16), t: 1_700_000_000_000 + (data.m[0] as readonly number[])[0]! });
    }
    expect(jobs.flatMap((data) => data.m.map((entry) => (entry as readonly unknown[])[3]))).toEqual(commands.map((c) => c.key));
    // An origin longer than a producer's is written whole, in an object.
    const long = new ProducedCommand('x'.repeat(17), 0, 'add', 'k', { by: 1 }, 1, undefined);
    expect(splitIntoJobs([long], 1 << 20)).toEqual([{ n: 1, m: [long] }]);
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
