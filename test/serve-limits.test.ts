/**
 * `ovis-image serve`'s guards, through the real CLI on loopback: the API key, the body size limit, the
 * bounded queue (429 + Retry-After), and a graceful SIGTERM (the running job finishes, queued ones are
 * cancelled, new ones refused, exit 0). Also: usage errors of the serve flags.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli } from './cli-helpers.js';
import { MODEL_FLAGS, postJson, readSse, startCli, startServe, waitForRunning, type CliProcess } from './helpers/serve-process.js';

const KEY = 'test-key-123';
const AUTH = { authorization: `Bearer ${KEY}` };
const SMALL = { prompt: 'a red fox', size: '32x32', steps: 2 };
const LONG = { prompt: 'a slow one', size: '64x64', steps: 100, guidance_scale: 1 };

let serve: { proc: CliProcess; url: string };

beforeAll(async () => {
  assertBuilt();
  serve = await startServe([...MODEL_FLAGS, '--api-key', KEY, '--max-queue', '1', '--body-limit', '2048']);
});

afterAll(async () => {
  await serve?.proc.stop('SIGKILL');
});

describe('serve: guards and shutdown', () => {
  it('binds 127.0.0.1 by default', () => {
    expect(serve.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('asks for the API key on every route but /healthz', async () => {
    expect((await fetch(`${serve.url}/healthz`)).status).toBe(200);
    for (const [method, path] of [['GET', '/metrics'], ['POST', '/v1/jobs'], ['GET', '/v1/jobs/x'], ['POST', '/v1/images/generations']] as const) {
      const res = await fetch(`${serve.url}${path}`, { method, headers: { authorization: 'Bearer wrong', 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : null });
      expect(res.status, path).toBe(401);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
    }
    expect((await fetch(`${serve.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${serve.url}/metrics`, { headers: AUTH })).status).toBe(200);
  });

  it('refuses a body over --body-limit with 413', async () => {
    const res = await postJson(`${serve.url}/v1/jobs`, { ...SMALL, prompt: 'x'.repeat(4000) }, AUTH);
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/too large/i);
  });

  it('answers 429 with Retry-After when the queue is full; SIGTERM finishes the running job, cancels the queued one, refuses new ones', async () => {
    const running = (await (await postJson(`${serve.url}/v1/jobs`, LONG, AUTH)).json()) as { id: string };
    await waitForRunning(serve.url, running.id, AUTH);
    const queued = (await (await postJson(`${serve.url}/v1/jobs`, SMALL, AUTH)).json()) as { id: string; position: number };
    expect(queued.position).toBe(0);
    const full = await postJson(`${serve.url}/v1/images/generations`, SMALL, AUTH);
    expect(full.status).toBe(429);
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await full.json()) as { error: { code: string } }).error.code).toBe('queue_full');

    const runningEvents = fetch(`${serve.url}/v1/jobs/${running.id}/events`, { headers: AUTH }).then(readSse);
    const queuedEvents = fetch(`${serve.url}/v1/jobs/${queued.id}/events`, { headers: AUTH }).then(readSse);
    await new Promise((r) => setTimeout(r, 100));
    serve.proc.child.kill('SIGTERM');
    let refused: Response | undefined;
    for (let i = 0; i < 50 && !refused; i++) {
      const res = await postJson(`${serve.url}/v1/jobs`, SMALL, AUTH);
      if (res.status === 503) refused = res;
      else await fetch(`${serve.url}/v1/jobs/${((await res.json()) as { id: string }).id}`, { method: 'DELETE', headers: AUTH });
    }
    expect(((await refused!.json()) as { error: { code: string } }).error.code).toBe('shutting_down');
    expect((await queuedEvents).at(-1)!.event).toBe('cancelled');
    const done = (await runningEvents).at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data.data[0].b64_json.length).toBeGreaterThan(100);
    expect(await serve.proc.exited).toEqual({ code: 0, signal: null });
  });
});

describe('serve: SIGTERM before it is ready', () => {
  it('ends the process at once while the model loads', async () => {
    const proc = startCli(['serve', '--port', '0', ...MODEL_FLAGS]);
    await new Promise((r) => setTimeout(r, 300));
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: null, signal: 'SIGTERM' });
    expect(proc.stdout()).not.toMatch(/listening/);
  });
});

describe('serve --redis and worker: an unreachable Redis fails at once with one line', () => {
  it.each([[['serve', '--port', '0']], [['worker', '-m', 'test/fixtures/golden/tiny-diffusers']]])('%j', (args) => {
    const r = cli([...args, '--redis', 'redis://127.0.0.1:1']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^ovis-image: error: cannot reach Redis at redis:\/\/127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('serve and worker: usage errors exit 2 naming the flag', () => {
  it.each([
    [['serve', '--port', '70000'], '--port must be an integer in [0, 65535] (got 70000)'],
    [['serve', '--max-queue', '0'], '--max-queue must be an integer in [1, 1000000] (got 0)'],
    [['serve', '--public-url', 'ftp://x/y'], '--public-url must be an origin'],
    [['serve', '--device', 'tpu'], "--device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"],
    [['worker'], "required option '--redis <url>' not specified"],
    [['worker', '--redis', 'redis://127.0.0.1:1', '--stall-ms', '10'], '--stall-ms must be an integer in [500, 3600000] (got 10)'],
  ])('%j', (args, message) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });
});
