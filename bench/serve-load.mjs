#!/usr/bin/env node
/**
 * Load test of `ovis-image serve` on the golden tiny model: requests/s and latency percentiles of
 * POST /v1/images/generations, embedded (one process) and with --redis and two workers.
 *
 *   node bench/serve-load.mjs [--requests 200] [--concurrency 8] [--size 32x32] [--steps 2] [--mode both|embedded|redis] [--workers 2]
 *
 * Needs the build (npm run build) and, for the Redis mode, redis-server on the PATH (started here on a
 * free loopback port). Each serving process runs the CPU backend with one thread.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'ovis-image.js');
const MODEL = ['-m', path.join(ROOT, 'test', 'fixtures', 'golden', 'tiny-diffusers'), '--device', 'cpu', '--threads', '1', '-q'];

const { values: o } = parseArgs({
  options: {
    requests: { type: 'string', default: '200' },
    concurrency: { type: 'string', default: '8' },
    size: { type: 'string', default: '32x32' },
    steps: { type: 'string', default: '2' },
    mode: { type: 'string', default: 'both' },
    workers: { type: 'string', default: '2' },
  },
});
const requests = Number(o.requests);
const concurrency = Number(o.concurrency);
const body = JSON.stringify({ prompt: 'a lighthouse at dusk', size: o.size, steps: Number(o.steps), guidance_scale: 3, seed: 1 });

const children = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

function start(args, ready) {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (c) => {
      out += c;
      const m = ready.exec(out);
      if (m) resolve({ child, match: m });
    });
    child.once('exit', (code) => reject(new Error(`${args[0]} exited (${code}) before it was ready`)));
  });
}

async function stop(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function load(url) {
  const post = () => fetch(`${url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  // warm-up: one request per serving process
  await Promise.all(Array.from({ length: 2 }, async () => (await post()).arrayBuffer()));
  const latencies = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        next++;
        const t = performance.now();
        const res = await post();
        await res.arrayBuffer();
        if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(0);
  return { rps: (requests / seconds).toFixed(2), p50: pct(50), p90: pct(90), p99: pct(99), max: latencies.at(-1).toFixed(0) };
}

function row(mode, r) {
  console.log(`| ${mode} | ${requests} | ${concurrency} | ${o.size}, ${o.steps} steps | ${r.rps} | ${r.p50} | ${r.p90} | ${r.p99} | ${r.max} |`);
}

console.log('| mode | requests | concurrency | image | requests/s | p50 ms | p90 ms | p99 ms | max ms |');
console.log('|---|---|---|---|---|---|---|---|---|');

if (o.mode === 'both' || o.mode === 'embedded') {
  const serve = await start(['serve', '--port', '0', '--max-queue', String(requests), ...MODEL], /listening on (\S+)/);
  row('embedded', await load(serve.match[1]));
  await stop(serve.child);
}

if (o.mode === 'both' || o.mode === 'redis') {
  const port = await freePort();
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  children.push(redis);
  await new Promise((r) => setTimeout(r, 500));
  const url = `redis://127.0.0.1:${port}`;
  const workers = await Promise.all(Array.from({ length: Number(o.workers) }, () => start(['worker', ...MODEL, '--redis', url], /ready/)));
  const serve = await start(['serve', '--port', '0', '--redis', url, '--max-queue', String(requests), '-q'], /listening on (\S+)/);
  row(`redis, ${o.workers} workers`, await load(serve.match[1]));
  await stop(serve.child);
  await Promise.all(workers.map((w) => stop(w.child)));
  await stop(redis);
}
