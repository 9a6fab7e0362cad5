/**
 * A real Redis for the distributed-mode tests: Debian's `redis-server`, started on a free loopback port
 * with nothing persisted, stopped after. Without redis-server the tests are skipped with a message,
 * except in CI (CI=true), where its absence is a failure (.ci/run installs it).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface RedisServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

export const REDIS_BINARY = process.env['OVIS_TEST_REDIS_SERVER'] || 'redis-server';

/** Whether redis-server can run here. */
export function redisServerAvailable(): boolean {
  return spawnSync(REDIS_BINARY, ['--version'], { encoding: 'utf8' }).status === 0;
}

/** Why the Redis tests are skipped, or undefined when they run; throws in CI when redis-server is missing. */
export function redisSkipReason(): string | undefined {
  if (redisServerAvailable()) return undefined;
  const why = `${REDIS_BINARY} not found: install it (apt-get install -y redis-server) to run the BullMQ tests`;
  if (process.env['CI'] === 'true') throw new Error(`${why}; in CI it is required`);
  console.warn(`skipping the Redis tests: ${why}`);
  return why;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn(REDIS_BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitForLine(child, /Ready to accept connections/, 10_000);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    stop: () => stopProcess(child),
  };
}

function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start in ${timeoutMs} ms:\n${seen}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with code ${code}:\n${seen}`));
    });
  });
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
