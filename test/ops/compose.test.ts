import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { available } from '../support/processes.ts';

describe.skipIf(!available('docker-compose', 'version'))('docker-compose.yml', () => {
  it('passes `docker-compose -f docker-compose.yml config`', () => {
    const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services'], { encoding: 'utf8' });
    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n').sort()).toEqual(['grafana', 'kafka', 'producer', 'prometheus', 'redis', 'worker-1', 'worker-2']);
  });
});

describe.skipIf(!available('promtool', '--version'))('config/prometheus.yml', () => {
  it('passes `promtool check config`', () => {
    const result = spawnSync('promtool', ['check', 'config', 'config/prometheus.yml'], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });
});
