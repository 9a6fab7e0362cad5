/**
 * `ovis-image serve` in embedded mode, as a real process on loopback with the golden tiny model:
 * images equal the API's for the same seed, every response format, SSE, jobs, 50 concurrent requests in
 * order, cancel, bad bodies, metrics.
 */
import { readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvisImage } from '../lib/ovis-image.js';
import { decodePng } from '../lib/pipeline/png.js';
import { assertBuilt } from './cli-helpers.js';
import { MODEL_FLAGS, postJson, readSse, startServe, TINY_MODEL, waitForJob, waitForRunning, type CliProcess } from './helpers/serve-process.js';

const SMALL = { prompt: 'a red fox', size: '32x32', steps: 2, guidance_scale: 3 };
/** Long enough to be caught running (~1-3 s on one core). */
const LONG = { prompt: 'a slow one', size: '64x64', steps: 100, guidance_scale: 1 };

let serve: { proc: CliProcess; url: string };
let api: OvisImage;

beforeAll(async () => {
  assertBuilt();
  [serve, api] = await Promise.all([startServe(MODEL_FLAGS), OvisImage.load(TINY_MODEL, { device: 'cpu', threads: 1 })]);
});

afterAll(async () => {
  await serve?.proc.stop();
  await api?.dispose();
});

async function apiImage(seed: number | bigint, o: { size: string; steps: number; guidance_scale: number; prompt: string } = SMALL): Promise<Uint8Array> {
  const [width, height] = o.size.split('x').map(Number) as [number, number];
  const r = await api.generate({ prompt: o.prompt, width, height, steps: o.steps, guidanceScale: o.guidance_scale, seed });
  return r.image.data;
}

function pixels(b64: string): Uint8Array {
  return decodePng(Buffer.from(b64, 'base64')).data;
}

describe('serve (embedded)', () => {
  it('answers /healthz', async () => {
    expect(await (await fetch(`${serve.url}/healthz`)).json()).toEqual({ status: 'ok' });
  });

  it('POST /v1/images/generations gives the API image for the same seed, n images with seeds seed, seed + 1', async () => {
    const res = await postJson(`${serve.url}/v1/images/generations`, { ...SMALL, seed: 7, n: 2, model: 'ovis-image' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { created: number; data: { b64_json: string; seed: string }[] };
    expect(body.data.map((d) => d.seed)).toEqual(['7', '8']);
    expect(pixels(body.data[0]!.b64_json)).toEqual(await apiImage(7));
    expect(pixels(body.data[1]!.b64_json)).toEqual(await apiImage(8));
    expect(body.created).toBeGreaterThan(1.7e9);
  });

  it('seeds past 2^53 come as decimal strings', async () => {
    const seed = '18446744073709551615';
    const body = (await (await postJson(`${serve.url}/v1/images/generations`, { ...SMALL, seed })).json()) as { data: { b64_json: string; seed: string }[] };
    expect(body.data[0]!.seed).toBe(seed);
    expect(pixels(body.data[0]!.b64_json)).toEqual(await apiImage(BigInt(seed)));
  });

  it("response_format 'url' serves the PNG from this server", async () => {
    const body = (await (await postJson(`${serve.url}/v1/images/generations`, { ...SMALL, seed: 3, response_format: 'url' })).json()) as { data: { url: string }[] };
    const url = body.data[0]!.url;
    expect(url.startsWith(`${serve.url}/v1/images/files/`)).toBe(true);
    const res = await fetch(url);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(decodePng(Buffer.from(await res.arrayBuffer())).data).toEqual(await apiImage(3));
    expect((await fetch(url.replace(/0\.png$/, '5.png'))).status).toBe(404);
    expect((await fetch(url.replace(/0\.png$/, '..%2F..%2Fetc%2Fpasswd'))).status).toBe(404);
  });

  it('stream: true answers with progress events, then the completed image in OpenAI shape', async () => {
    const res = await postJson(`${serve.url}/v1/images/generations`, { ...SMALL, seed: 11, stream: true });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readSse(res);
    const progress = events.filter((e) => e.event === 'image_generation.progress').map((e) => e.data.step);
    expect(progress.at(-1)).toBe(2);
    const completed = events.filter((e) => e.event === 'image_generation.completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]!.data).toMatchObject({ type: 'image_generation.completed', size: '32x32', output_format: 'png', seed: '11' });
    expect(pixels(completed[0]!.data.b64_json)).toEqual(await apiImage(11));
    expect(events.at(-1)!.event).toBe('image_generation.completed');
  });

  it('image + strength (base64 PNG): image-to-image equal to the API, at the image size by default', async () => {
    const init = readFileSync(new URL('./fixtures/golden/img2img/i1/init.png', import.meta.url));
    const body = { prompt: 'A wooden sign that says "OPEN"', steps: 6, guidance_scale: 5, seed: 77, strength: 0.7 };
    const res = await postJson(`${serve.url}/v1/images/generations`, { ...body, image: `data:image/png;base64,${init.toString('base64')}` });
    expect(res.status).toBe(200);
    const png = decodePng(Buffer.from(((await res.json()) as { data: { b64_json: string }[] }).data[0]!.b64_json, 'base64'));
    expect([png.width, png.height]).toEqual([64, 48]);
    const r = await api.generate({ prompt: body.prompt, steps: 6, guidanceScale: 5, seed: 77, strength: 0.7, image: new Uint8Array(init) });
    expect(png.data).toEqual(r.image.data);
  });

  it('stream with partial_images sends that many previews (VAE-decoded PNGs) before the completed image', async () => {
    const events = await readSse(await postJson(`${serve.url}/v1/images/generations`, { ...SMALL, steps: 6, seed: 4, stream: true, partial_images: 2 }));
    const partial = events.filter((e) => e.event === 'image_generation.partial_image');
    expect(partial.map((e) => e.data.partial_image_index)).toEqual([0, 1]);
    for (const p of partial) {
      expect(p.data).toMatchObject({ type: 'image_generation.partial_image', size: '32x32', output_format: 'png', index: 0 });
      expect(decodePng(Buffer.from(p.data.b64_json, 'base64')).width).toBe(32);
    }
    expect(events.findIndex((e) => e.event === 'image_generation.partial_image')).toBeLessThan(events.findIndex((e) => e.event === 'image_generation.completed'));
    expect(pixels(events.at(-1)!.data.b64_json)).toEqual(await apiImage(4, { ...SMALL, steps: 6 }));
  });

  it('jobs: POST /v1/jobs, GET /v1/jobs/:id and its events', async () => {
    const res = await postJson(`${serve.url}/v1/jobs`, { ...SMALL, seed: 5 });
    expect(res.status).toBe(202);
    const { id, state } = (await res.json()) as { id: string; state: string };
    expect(state).toBe('queued');
    const events = await readSse(await fetch(`${serve.url}/v1/jobs/${id}/events`));
    expect(events.at(-1)!.event).toBe('done');
    expect(pixels(events.at(-1)!.data.data[0].b64_json)).toEqual(await apiImage(5));
    const job = await waitForJob(serve.url, id, /succeeded/);
    expect(job).toMatchObject({ id, state: 'succeeded', n: 1 });
    expect(job.data[0].seed).toBe('5');
    expect(job.finished_at).toBeGreaterThanOrEqual(job.started_at);
    expect((await fetch(`${serve.url}/v1/jobs/00000000-0000-0000-0000-000000000000`)).status).toBe(404);
  });

  it('50 concurrent requests all complete, run one at a time in arrival order', async () => {
    // One socket: the 50 POSTs reach the server in the order they are made.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => postWithAgent(agent, `${serve.url}/v1/jobs`, { ...SMALL, size: '16x16', steps: 1, seed: 100 + i })));
    agent.destroy();
    const jobs = await Promise.all(ids.map((id) => waitForJob(serve.url, id, /succeeded|failed|cancelled/)));
    expect(jobs.map((j) => j.state)).toEqual(Array(50).fill('succeeded'));
    expect(jobs.map((j) => j.data[0].seed)).toEqual(jobs.map((_, i) => String(100 + i)));
    for (let i = 1; i < jobs.length; i++) expect(jobs[i].started_at).toBeGreaterThanOrEqual(jobs[i - 1].finished_at);
    // and 50 plain requests at once: none lost
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => postJson(`${serve.url}/v1/images/generations`, { ...SMALL, size: '16x16', steps: 1, seed: i })));
    expect(answers.map((r) => r.status)).toEqual(Array(50).fill(200));
  });

  it('DELETE cancels a running job within a step and a queued one at once; the model stays usable', async () => {
    const running = (await (await postJson(`${serve.url}/v1/jobs`, LONG)).json()) as { id: string };
    const queued = (await (await postJson(`${serve.url}/v1/jobs`, LONG)).json()) as { id: string };
    await waitForRunning(serve.url, running.id);
    const events = fetch(`${serve.url}/v1/jobs/${running.id}/events`).then(readSse);
    expect(await (await fetch(`${serve.url}/v1/jobs/${queued.id}`, { method: 'DELETE' })).json()).toEqual({ id: queued.id, cancelled: true });
    expect((await fetch(`${serve.url}/v1/jobs/${running.id}`, { method: 'DELETE' })).status).toBe(200);
    const job = await waitForJob(serve.url, running.id, /cancelled|succeeded|failed/, 10_000);
    expect(job.state).toBe('cancelled');
    expect(job.step).toBeUndefined();
    expect((await events).at(-1)!.event).toBe('cancelled');
    expect((await waitForJob(serve.url, queued.id, /./)).state).toBe('cancelled');
    const again = await fetch(`${serve.url}/v1/jobs/${running.id}`, { method: 'DELETE' });
    expect(again.status).toBe(409);
    const after = (await (await postJson(`${serve.url}/v1/images/generations`, { ...SMALL, seed: 7 })).json()) as { data: { b64_json: string }[] };
    expect(pixels(after.data[0]!.b64_json)).toEqual(await apiImage(7));
  });

  it.each([
    [{ ...SMALL, size: '1000x32' }, 'size', "'size': the width must be a multiple of 16 in [16, 4096] (got 1000)"],
    [{ ...SMALL, size: 'big' }, 'size', "'size' must be a string 'WxH'"],
    [{ ...SMALL, steps: 0 }, 'steps', "'steps' must be an integer in [1, 1000] (got 0)"],
    [{ ...SMALL, guidance_scale: 101 }, 'guidance_scale', "'guidance_scale' must be a number in [0, 100] (got 101)"],
    [{ ...SMALL, seed: -1 }, 'seed', "'seed' must be an integer"],
    [{ ...SMALL, seed: 'abc' }, 'seed', "'seed' must be an integer"],
    [{ ...SMALL, n: 11 }, 'n', "'n' must be an integer in [1, 10] (got 11)"],
    [{ ...SMALL, response_format: 'webp' }, 'response_format', "'response_format' must be 'b64_json' or 'url'"],
    [{ ...SMALL, prompt: 42 }, 'prompt', "'prompt' must be a string of at most 10000 characters (got 42)"],
    [{ size: '32x32' }, 'prompt', "'prompt' must be a string of at most 10000 characters (got nothing)"],
    [{ ...SMALL, negative_prompt: ['x'] }, 'negative_prompt', "'negative_prompt' must be a string"],
    [{ ...SMALL, image: '/etc/passwd' }, 'image', "'image' bytes are neither PNG nor JPEG"],
    [{ ...SMALL, image: 'not base64!' }, 'image', "'image' must be a base64 string of PNG or JPEG bytes"],
    [{ ...SMALL, strength: 0.5 }, 'strength', "'strength' needs 'image'"],
    [{ ...SMALL, foo: 1 }, 'foo', "unknown field 'foo'"],
    [{ ...SMALL, partial_images: 4 }, 'partial_images', "'partial_images' must be an integer in [0, 3] (got 4)"],
    [{ ...SMALL, seed: '18446744073709551615', n: 2 }, 'seed', 'runs past the largest seed'],
  ])('400 for a bad body %#, naming the field', async (body, param, message) => {
    for (const route of ['/v1/images/generations', '/v1/jobs']) {
      const res = await postJson(`${serve.url}${route}`, body);
      expect(res.status).toBe(400);
      const { error } = (await res.json()) as { error: { message: string; param: string; type: string } };
      expect(error.param).toBe(param);
      expect(error.message).toContain(message);
      expect(error.type).toBe('invalid_request_error');
    }
  });

  it('400 for a body that is not a JSON object', async () => {
    const notJson = await fetch(`${serve.url}/v1/images/generations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"prompt":' });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: { message: string } }).error.message).toBeTruthy();
    const array = await postJson(`${serve.url}/v1/images/generations`, [SMALL]);
    expect(array.status).toBe(400);
    expect(((await array.json()) as { error: { message: string } }).error.message).toBe('the body must be a JSON object');
    const unknown = await fetch(`${serve.url}/v1/nothing`);
    expect(unknown.status).toBe(404);
  });

  it('GET /metrics: queue depth, jobs by state, seconds per step and per image', async () => {
    const text = await (await fetch(`${serve.url}/metrics`)).text();
    expect(text).toMatch(/^ovis_queue_depth 0$/m);
    expect(text).toMatch(/^ovis_jobs\{state="succeeded"\} \d+$/m);
    expect(text).toMatch(/^ovis_jobs\{state="cancelled"\} [1-9]\d*$/m);
    expect(text).toMatch(/^ovis_step_seconds_count [1-9]\d*$/m);
    expect(text).toMatch(/^ovis_image_seconds_count [1-9]\d*$/m);
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
