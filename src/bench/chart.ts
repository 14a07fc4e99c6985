import type { BenchReport } from './run.ts';

const ROW_HEIGHT = 22;
const LABEL_WIDTH = 250;
const PANEL_WIDTH = 330;
const GAP = 40;
const COLORS = { uniform: '#4472c4', hot: '#ed7d31' } as const;

const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * The bench results as an SVG: per scenario, throughput (log scale) on the left and p99
 * end-to-end latency on the right, one bar per workload, with the machine underneath.
 */
export function renderChart(report: BenchReport): string {
  const names = [...new Set(report.results.map((r) => r.name))];
  const workloads = [...new Set(report.results.map((r) => r.workload))];
  const height = 60 + names.length * workloads.length * ROW_HEIGHT + names.length * 8 + 40;
  const width = LABEL_WIDTH + 2 * PANEL_WIDTH + GAP + 20;
  const maxRate = Math.max(...report.results.map((r) => r.commandsPerSec), 10);
  const maxP99 = Math.max(...report.results.map((r) => r.p99Ms), 1);
  const logScale = (v: number) => (Math.log10(Math.max(v, 1)) / Math.log10(maxRate)) * (PANEL_WIDTH - 70);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LABEL_WIDTH}" y="20" font-weight="bold">commands/s (log scale)</text>`,
    `<text x="${LABEL_WIDTH + PANEL_WIDTH + GAP}" y="20" font-weight="bold">p99 end-to-end latency, ms</text>`,
  ];
  workloads.forEach((w, i) => {
    out.push(`<rect x="${LABEL_WIDTH + i * 90}" y="30" width="12" height="12" fill="${COLORS[w]}"/>`);
    out.push(`<text x="${LABEL_WIDTH + i * 90 + 16}" y="40">${w}</text>`);
  });
  let y = 56;
  for (const name of names) {
    out.push(`<text x="${LABEL_WIDTH - 8}" y="${y + ROW_HEIGHT * workloads.length / 2 + 4}" text-anchor="end">${escape(name)}</text>`);
    for (const workload of workloads) {
      const r = report.results.find((x) => x.name === name && x.workload === workload);
      if (r !== undefined) {
        const rateWidth = logScale(r.commandsPerSec);
        const latencyWidth = (r.p99Ms / maxP99) * (PANEL_WIDTH - 70);
        out.push(`<rect x="${LABEL_WIDTH}" y="${y}" width="${rateWidth.toFixed(1)}" height="${ROW_HEIGHT - 6}" fill="${COLORS[workload]}"/>`);
        out.push(`<text x="${LABEL_WIDTH + rateWidth + 4}" y="${y + 12}">${r.commandsPerSec.toLocaleString('en-US')}</text>`);
        const x2 = LABEL_WIDTH + PANEL_WIDTH + GAP;
        out.push(`<rect x="${x2}" y="${y}" width="${latencyWidth.toFixed(1)}" height="${ROW_HEIGHT - 6}" fill="${COLORS[workload]}"/>`);
        out.push(`<text x="${x2 + latencyWidth + 4}" y="${y + 12}">${r.p99Ms}</text>`);
      }
      y += ROW_HEIGHT;
    }
    y += 8;
  }
  const m = report.machine;
  out.push(`<text x="10" y="${height - 14}" fill="#555">${escape(`${String(m.cpus)} × ${String(m.cpuModel)}, ${String(m.memoryGiB)} GiB, Node ${String(m.node)}, redis ${String(m.redis ?? '-')}, ${String(m.date)}`)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
