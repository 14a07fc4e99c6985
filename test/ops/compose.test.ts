import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { available } from '../support/processes.ts';

const SHARDLINE_SERVICES = ['gateway', 'producer', 'worker-1', 'worker-2'];

describe.skipIf(!available('docker-compose', 'version'))('docker-compose.yml', () => {
  it('passes `docker-compose -f docker-compose.yml config`', () => {
    const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services'], { encoding: 'utf8' });
    expect(result.stderr).not.toMatch(/ERROR/);
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n').sort()).toEqual(['grafana', 'kafka', 'prometheus', 'redis', ...SHARDLINE_SERVICES].sort());
  });

  it('builds the shardline services from the Dockerfile instead of mounting the checkout', () => {
    const result = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    for (const service of SHARDLINE_SERVICES) {
      const block = result.stdout.split(/\n {2}(?=\S)/).find((b) => b.startsWith(`${service}:`))!;
      expect(block, service).toMatch(/build:\n\s+context: /);
      expect(block, service).toContain('image: shardline:local');
      expect(block, service).not.toContain('volumes:');
    }
  });
});

describe('Dockerfile', () => {
  const dockerfile = readFileSync('Dockerfile', 'utf8');
  const instructions = dockerfile.split('\n').filter((line) => /^[A-Z]+ /.test(line));

  it('builds in a stage of its own and runs the compiled package with production dependencies only, as a non-root user', () => {
    expect(instructions.filter((line) => line.startsWith('FROM ')).length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toContain('RUN npm run build');
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(instructions.filter((line) => line.startsWith('USER ')).pop()).toBe('USER node');
    expect(instructions.filter((line) => line.startsWith('ENTRYPOINT ')).pop()).toBe('ENTRYPOINT ["node", "/app/bin/shardline.js"]');
  });

  it('checks its health on /healthz', () => {
    expect(dockerfile).toMatch(/HEALTHCHECK [^\n]*\\\n\s+CMD \[.*\/healthz/);
  });

  it('sends no host node_modules or dist/ into the build context', () => {
    const ignore = readFileSync('.dockerignore', 'utf8').split('\n').filter((line) => line !== '' && !line.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const included = ignore.filter((line) => line.startsWith('!'));
    expect(included).not.toContain('!node_modules');
    expect(included).not.toContain('!dist');
  });
});

describe.skipIf(!available('promtool', '--version'))('config/prometheus.yml', () => {
  it('passes `promtool check config`', () => {
    const result = spawnSync('promtool', ['check', 'config', 'config/prometheus.yml'], { encoding: 'utf8' });
    expect(result.stdout + result.stderr).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });
});
