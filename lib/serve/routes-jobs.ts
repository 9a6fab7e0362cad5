/** Job routes: POST /v1/jobs, GET /v1/jobs/:id, GET /v1/jobs/:id/events (SSE), DELETE /v1/jobs/:id. */
import type { FastifyInstance } from 'fastify';
import { HttpError } from './http-error.js';
import { imageData, type ImageDatum } from './image-response.js';
import { jobEvents } from './job-stream.js';
import { parseRequestBody } from './request-body.js';
import type { RouteContext } from './server.js';
import type { JobEvent, JobInfo } from './types.js';

type IdParams = { Params: { id: string } };

/** Job ids are UUIDs made here; anything else is refused before it reaches a queue (or a Redis key name). */
const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isJobId(id: string): boolean {
  return JOB_ID.test(id);
}

export function registerJobRoutes(app: FastifyInstance, c: RouteContext): void {
  app.post('/v1/jobs', async (request, reply) => {
    const { request: job, stream } = parseRequestBody(request.body);
    if (stream) throw new HttpError(400, "'stream' is not used by /v1/jobs: follow a job with GET /v1/jobs/:id/events", 'stream');
    const info = await c.queue.submit(job);
    return reply.code(202).send({ id: info.id, state: info.state, position: info.position });
  });

  app.get<IdParams>('/v1/jobs/:id', async (request) => {
    const info = isJobId(request.params.id) ? await c.queue.get(request.params.id) : undefined;
    if (!info) throw unknownJob();
    return jobJson(info, c.baseUrl(request));
  });

  app.get<IdParams>('/v1/jobs/:id/events', { sse: 'manual' }, async (request, reply) => {
    const subscription = isJobId(request.params.id) ? await jobEvents(c.queue, request.params.id) : undefined;
    if (!subscription) throw unknownJob();
    const { info, events } = subscription;
    const baseUrl = c.baseUrl(request);
    await reply.sse!.send(
      (async function* () {
        for await (const e of events) yield { event: e.type, data: eventJson(info, e, baseUrl) };
      })(),
    );
  });

  app.delete<IdParams>('/v1/jobs/:id', async (request) => {
    const { id } = request.params;
    if (!isJobId(id)) throw unknownJob();
    if (await c.queue.cancel(id)) return { id, cancelled: true };
    const info = await c.queue.get(id);
    if (!info) throw unknownJob();
    throw new HttpError(409, `the job has already ended (${info.state})`, null, 'job_ended');
  });
}

function unknownJob(): HttpError {
  return new HttpError(404, 'no such job: unknown, or its result expired');
}

interface JobJson {
  id: string;
  state: JobInfo['state'];
  created: number;
  /** Epoch milliseconds. */
  started_at?: number;
  finished_at?: number;
  n: number;
  position?: number;
  step?: number;
  steps?: number;
  image?: number;
  data?: ImageDatum[];
  /** The worker process that made the images (distributed mode). */
  worker?: string;
  error?: string;
}

function jobJson(info: JobInfo, baseUrl: string): JobJson {
  const out: JobJson = { id: info.id, state: info.state, created: Math.floor(info.createdAt / 1000), n: info.request.n };
  if (info.position !== undefined) out.position = info.position;
  if (info.startedAt !== undefined) out.started_at = info.startedAt;
  if (info.finishedAt !== undefined) out.finished_at = info.finishedAt;
  if (info.state === 'running') Object.assign(out, { step: info.step ?? 0, steps: info.steps ?? info.request.steps, image: info.image ?? 0 });
  if (info.result) out.data = imageData(info, info.result, baseUrl);
  if (info.result?.worker !== undefined) out.worker = info.result.worker;
  if (info.error !== undefined) out.error = info.error;
  return out;
}

function eventJson(info: JobInfo, e: JobEvent, baseUrl: string): unknown {
  if (e.type === 'done') return { data: imageData(info, e.result, baseUrl) };
  const { type: _type, ...rest } = e;
  return rest;
}
