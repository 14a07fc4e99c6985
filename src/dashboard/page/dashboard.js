// The dashboard page: renders each snapshot of GET /events (Server-Sent Events) and posts
// redrive requests. Every value from the server is written with textContent, never as HTML.
'use strict';

const COLORS = ['#2f7bd8', '#d8452f', '#2e9b57', '#b5651d', '#7b4fc9', '#1a9aa0', '#c2378f', '#6b7383'];
const $ = (id) => document.getElementById(id);
let charts;
let latest;
let shownSignature;

function cell(row, text, className) {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function fixed(value, digits) {
  return value === null || value === undefined ? '–' : value.toFixed(digits);
}

function time(ms) {
  return new Date(ms).toLocaleTimeString();
}

function waterLevel(depth, capacity) {
  const level = document.createElement('div');
  const share = capacity > 0 ? Math.min(1, depth / capacity) : 0;
  level.className = share >= 0.8 ? 'level high' : 'level';
  const water = document.createElement('div');
  water.className = 'water';
  water.style.width = `${(share * 100).toFixed(1)}%`;
  const label = document.createElement('span');
  label.textContent = `${depth} / ${capacity}`;
  level.append(water, label);
  return level;
}

function renderShards(snapshot) {
  const body = $('shards').tBodies[0];
  body.replaceChildren(
    ...snapshot.shards.map((s) => {
      const row = document.createElement('tr');
      row.dataset.shard = String(s.shard);
      cell(row, String(s.shard), 'num');
      cell(row, s.owner ? s.owner.member : '–', 'owner');
      cell(row, s.owner && s.owner.host !== undefined ? s.owner.host : '–');
      cell(row, s.owner && s.owner.pid !== undefined ? String(s.owner.pid) : '–', 'num');
      cell(row, String(s.epoch), 'num');
      cell(row, '').appendChild(waterLevel(s.depth, s.capacity));
      row.lastChild.className = 'depth';
      row.lastChild.dataset.depth = String(s.depth);
      cell(row, fixed(s.appliedPerSec, 1), 'num applied');
      cell(row, s.p99Ms === null ? '–' : `≤ ${fixed(s.p99Ms, 1)} ms`, 'num');
      cell(row, String(s.lastPosition), 'num position');
      cell(row, String(s.deadLetters), 'num');
      cell(row, s.hotKeys.length === 0 ? '–' : s.hotKeys.map((k) => `${k.key} ${Math.round(k.share * 100)}%`).join(', '), 'hot-keys');
      return row;
    }),
  );
}

function renderProcesses(snapshot) {
  $('processes').tBodies[0].replaceChildren(
    ...snapshot.processes.map((p) => {
      const row = document.createElement('tr');
      row.dataset.member = p.member;
      cell(row, p.member);
      cell(row, p.host === undefined ? '–' : p.host);
      cell(row, p.pid === undefined ? '–' : String(p.pid), 'num');
      cell(row, p.shards.join(', '), 'shards');
      cell(row, p.ready === null ? '–' : p.ready ? 'ready' : 'not ready');
      return row;
    }),
  );
  $('changes').replaceChildren(
    ...snapshot.changes.map((c) => {
      const item = document.createElement('li');
      item.textContent = `${time(c.at)} shard ${c.shard}: ${c.from ?? 'nobody'} → ${c.to ?? 'nobody'}`;
      return item;
    }),
  );
}

/** The payload of an encoded command, pretty-printed; the raw text when it is not JSON. */
function payloadOf(value) {
  try {
    const command = JSON.parse(value);
    return JSON.stringify(command.payload, null, 1);
  } catch {
    return value;
  }
}

function shownLetters(snapshot) {
  const type = $('filter-type').value.trim();
  const shard = $('filter-shard').value.trim();
  return snapshot.deadLetters.letters.filter((l) => (type === '' || l.type === type) && (shard === '' || String(l.shard) === shard));
}

function renderDeadLetters(snapshot) {
  $('dead-letter-total').textContent = `(${snapshot.deadLetters.total} in all)`;
  $('redrive-off').hidden = snapshot.redrive;
  const types = [...new Set(snapshot.deadLetters.letters.map((l) => l.type).filter((t) => t !== undefined))];
  $('letter-types').replaceChildren(...types.map((t) => Object.assign(document.createElement('option'), { value: t })));
  // Rows are rebuilt only when what they show changed: a button replaced between a
  // press and its release would swallow the click.
  const shown = shownLetters(snapshot);
  const signature = JSON.stringify(shown);
  if (signature === shownSignature) return;
  shownSignature = signature;
  $('dead-letters').tBodies[0].replaceChildren(
    ...shown.map((l) => {
      const row = document.createElement('tr');
      row.dataset.letter = l.letterId;
      if (l.redrive) row.className = l.redrive.action;
      cell(row, time(l.failedAt));
      cell(row, l.letterId);
      cell(row, String(l.shard), 'num');
      cell(row, l.type ?? '?', 'type');
      cell(row, l.key ?? '–', 'key');
      const pre = document.createElement('pre');
      pre.textContent = payloadOf(l.value);
      cell(row, '', 'payload').appendChild(pre);
      cell(row, l.error, 'error');
      cell(row, String(l.attempts), 'num');
      cell(row, l.redrive ? `${l.redrive.action} by ${l.redrive.by} at ${time(l.redrive.at)}` : 'pending', 'status');
      const actions = cell(row, '');
      for (const action of ['requeue', 'discard']) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = action;
        button.textContent = action === 'requeue' ? 'Requeue' : 'Discard';
        button.addEventListener('click', () => redrive(action, { id: l.letterId }));
        actions.appendChild(button);
      }
      return row;
    }),
  );
}

function chart(target, series, height) {
  return new uPlot(
    { width: target.clientWidth || 600, height, scales: { x: { time: true } }, series: [{}, ...series], legend: { live: false } },
    [[], ...series.map(() => [])],
    target,
  );
}

function renderCharts(snapshot) {
  const at = snapshot.history.at.map((ms) => ms / 1000);
  if (charts === undefined) {
    charts = {
      depth: chart($('depth-chart'), snapshot.history.depth.map((_, shard) => ({ label: `shard ${shard}`, stroke: COLORS[shard % COLORS.length], width: 1.5 })), 220),
      throughput: chart($('throughput-chart'), [{ label: 'applied/s', stroke: '#2e9b57', fill: 'rgba(46,155,87,.12)', width: 1.5 }], 160),
    };
  }
  charts.depth.setData([at, ...snapshot.history.depth]);
  charts.throughput.setData([at, snapshot.history.applied]);
}

function render(snapshot) {
  latest = snapshot;
  $('domain').textContent = snapshot.domain;
  $('where').textContent = `transport ${snapshot.transport}, store ${snapshot.store}, ${snapshot.shards.length} shard(s)`;
  const status = $('status');
  status.dataset.state = snapshot.error === null ? 'live' : 'error';
  status.textContent = snapshot.error === null ? `live, updated ${time(snapshot.at)}` : `last read failed: ${snapshot.error}`;
  renderShards(snapshot);
  renderCharts(snapshot);
  renderProcesses(snapshot);
  renderDeadLetters(snapshot);
}

async function redrive(action, selection) {
  const result = $('redrive-result');
  const token = $('token').value;
  sessionStorage.setItem('shardline-dashboard-token', token);
  const response = await fetch(`/api/dead-letters/${action}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token === '' ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(selection),
  });
  const body = await response.json().catch(() => ({}));
  result.className = response.ok ? '' : 'refused';
  result.dataset.status = String(response.status);
  result.textContent = response.ok ? `${body.action} ${body.letters.length} letter(s): ${body.letters.join(' ')}` : `refused (${response.status}): ${body.error ?? response.statusText}`;
}

function redriveShown(action) {
  const type = $('filter-type').value.trim();
  const shard = $('filter-shard').value.trim();
  redrive(action, { all: true, ...(type === '' ? {} : { type }), ...(shard === '' ? {} : { shard: Number(shard) }) });
}

function connect() {
  const events = new EventSource('/events');
  events.addEventListener('snapshot', (event) => render(JSON.parse(event.data)));
  events.addEventListener('error', () => {
    const status = $('status');
    status.dataset.state = 'error';
    status.textContent = 'disconnected, retrying…';
  });
}

$('token').value = sessionStorage.getItem('shardline-dashboard-token') ?? '';
$('requeue-all').addEventListener('click', () => redriveShown('requeue'));
$('discard-all').addEventListener('click', () => redriveShown('discard'));
for (const id of ['filter-type', 'filter-shard']) $(id).addEventListener('input', () => latest && renderDeadLetters(latest));
connect();
