/**
 * Distributed mode against a real Redis (redis-server on a free loopback port): `serve --redis` enqueues
 * on BullMQ, `worker` processes run the jobs. API-equal images, cancel reaching the worker, a worker
 * killed with SIGKILL mid-job (another worker finishes it, same image), 50 concurrent jobs over two
 * workers in order, queue full → 429. Skipped with a message when redis-server is missing, except in CI.
 */
import { Agent, request as httpRequest } from 'node:http';
import { hostname } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvisImage } from '../lib/ovis-image.js';
import { decodePng } from '../lib/pipeline/png.js';
import { assertBuilt } from './cli-helpers.js';
import { redisSkipReason, startRedis, type RedisServer } from './helpers/redis-server.js';
import { postJson, readSse, type Json, startServe, startWorker, TINY_MODEL, waitForJob, waitForRunning, type CliProcess } from './helpers/serve-process.js';

const SMALL = { prompt: 'a red fox', size: '32x32', steps: 2, guidance_scale: 3 };
const LONG = { prompt: 'a slow one', size: '64x64', steps: 100, guidance_scale: 1 };
/** A dead worker's job is taken again after about this long. */
const STALL = ['--stall-ms', '3000'];

const skip = redisSkipReason();

describe.skipIf(skip !== undefined)('serve --redis with BullMQ workers', () => {
  let redis: RedisServer;
  let serve: { proc: CliProcess; url: string };
  let api: OvisImage;
  const workers: CliProcess[] = [];

  beforeAll(async () => {
    assertBuilt();
    redis = await startRedis();
    [serve, api] = await Promise.all([
      startServe(['--redis', redis.url, '--queue-name', 'ovis-test', '-q']),
      OvisImage.load(TINY_MODEL, { device: 'cpu', threads: 1 }),
      startWorker(['--redis', redis.url, '--queue-name', 'ovis-test', ...STALL]).then((w) => workers.push(w)),
    ]);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGKILL')));
    await serve?.proc.stop('SIGKILL');
    await api?.dispose();
    await redis?.stop();
  });

  async function apiImage(seed: number, o = SMALL): Promise<Uint8Array> {
    const [width, height] = o.size.split('x').map(Number) as [number, number];
    return (await api.generate({ prompt: o.prompt, width, height, steps: o.steps, guidanceScale: o.guidance_scale, seed })).image.data;
  }

  const pixels = (b64: string): Uint8Array => decodePng(Buffer.from(b64, 'base64')).data;

  it('a worker makes the image the API makes for the same seed (JSON and SSE)', async () => {
    const body = (await (await postJson(`${serve.url}/v1/images/generations`, { ...SMALL, seed: 21, n: 2 })).json()) as { data: { b64_json: string; seed: string }[] };
    expect(body.data.map((d) => d.seed)).toEqual(['21', '22']);
    expect(pixels(body.data[0]!.b64_json)).toEqual(await apiImage(21));
    expect(pixels(body.data[1]!.b64_json)).toEqual(await apiImage(22));
    const events = await readSse(await postJson(`${serve.url}/v1/images/generations`, { ...SMALL, seed: 23, stream: true }));
    expect(events.some((e) => e.event === 'image_generation.progress' && e.data.step === 2)).toBe(true);
    expect(pixels(events.at(-1)!.data.b64_json)).toEqual(await apiImage(23));
  });

  it('DELETE reaches the worker and stops the running generation; a queued job is removed', async () => {
    const running = (await (await postJson(`${serve.url}/v1/jobs`, LONG)).json()) as { id: string };
    const queued = (await (await postJson(`${serve.url}/v1/jobs`, LONG)).json()) as { id: string };
    await waitForRunning(serve.url, running.id);
    const events = fetch(`${serve.url}/v1/jobs/${running.id}/events`).then(readSse);
    expect((await fetch(`${serve.url}/v1/jobs/${queued.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${serve.url}/v1/jobs/${running.id}`, { method: 'DELETE' })).status).toBe(200);
    const job = await waitForJob(serve.url, running.id, /cancelled|succeeded|failed/, 20_000);
    expect(job.state, JSON.stringify(job)).toBe("cancelled");
    expect((await events).at(-1)!.event).toBe('cancelled');
    expect((await waitForJob(serve.url, queued.id, /./)).state).toBe('cancelled');
    // ids are UUIDs: other names never reach Redis (BullMQ keeps its own hashes beside the jobs)
    for (const id of ['meta', 'id', '..%2Fmeta']) {
      expect((await fetch(`${serve.url}/v1/jobs/${id}`)).status).toBe(404);
      expect((await fetch(`${serve.url}/v1/jobs/${id}`, { method: 'DELETE' })).status).toBe(404);
    }
    // the worker stays usable
    const after = (await (await postJson(`${serve.url}/v1/images/generations`, { ...SMALL, seed: 21 })).json()) as { data: { b64_json: string }[] };
    expect(pixels(after.data[0]!.b64_json)).toEqual(await apiImage(21));
  });

  it('a worker killed with SIGKILL mid-job: another worker completes it, with the same image', async () => {
    const job = (await (await postJson(`${serve.url}/v1/jobs`, { ...LONG, seed: 9 })).json()) as { id: string };
    await waitForRunning(serve.url, job.id);
    const victim = workers.shift()!;
    await victim.stop('SIGKILL');
    workers.push(await startWorker(['--redis', redis.url, '--queue-name', 'ovis-test', ...STALL]));
    const done = await waitForJob(serve.url, job.id, /succeeded|failed|cancelled/);
    expect(done.state).toBe('succeeded');
    expect(done.worker).toBe(`${hostname()}:${workers.at(-1)!.child.pid}`);
    expect(pixels(done.data[0].b64_json)).toEqual(await apiImage(9, LONG));
  });

  it('50 concurrent jobs over two workers all complete; each worker takes them in arrival order', async () => {
    workers.push(await startWorker(['--redis', redis.url, '--queue-name', 'ovis-test', ...STALL]));
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => postWithAgent(agent, `${serve.url}/v1/jobs`, { ...SMALL, size: '16x16', steps: 1, seed: 200 + i })));
    agent.destroy();
    const jobs = await Promise.all(ids.map((id) => waitForJob(serve.url, id, /succeeded|failed|cancelled/)));
    expect(jobs.map((j) => j.state)).toEqual(Array(50).fill('succeeded'));
    expect(jobs.map((j) => j.data[0].seed)).toEqual(jobs.map((_, i) => String(200 + i)));
    const byWorker = new Map<string, Json[]>();
    for (const j of jobs) byWorker.set(j.worker, [...(byWorker.get(j.worker) ?? []), j]);
    expect(byWorker.size).toBe(2);
    for (const own of byWorker.values()) for (let i = 1; i < own.length; i++) expect(own[i].started_at).toBeGreaterThanOrEqual(own[i - 1].finished_at);
    const metrics = await (await fetch(`${serve.url}/metrics`)).text();
    expect(metrics).toMatch(/^ovis_queue_depth 0$/m);
    expect(metrics).toMatch(/^ovis_image_seconds_count [1-9]\d*$/m);
  });

  it('answers 429 with Retry-After when the Redis queue is full', async () => {
    const small = await startServe(['--redis', redis.url, '--queue-name', 'ovis-no-workers', '--max-queue', '1', '-q']);
    try {
      expect((await postJson(`${small.url}/v1/jobs`, SMALL)).status).toBe(202);
      const full = await postJson(`${small.url}/v1/images/generations`, SMALL);
      expect(full.status).toBe(429);
      expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      expect(await small.proc.stop()).toEqual({ code: 0, signal: null });
    }
  });
});

function postWithAgent(agent: Agent, url: string, body: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => (res.statusCode === 202 ? resolve((JSON.parse(text) as { id: string }).id) : reject(new Error(`${res.statusCode}: ${text}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
