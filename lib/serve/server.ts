/**
 * The HTTP server: fastify with bearer auth (every route but /healthz), a body size limit, JSON errors in
 * OpenAI's shape, and the image, job, health and metrics routes over a JobQueue.
 */
import bearerAuth from '@fastify/bearer-auth';
import { fastifySSE } from '@fastify/sse';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { DEFAULT_BODY_LIMIT } from './defaults.js';
import { errorBody, HttpError } from './http-error.js';
import { createMetrics } from './metrics.js';
import { registerImageRoutes } from './routes-images.js';
import { registerJobRoutes } from './routes-jobs.js';
import { QueueFullError, ShuttingDownError, type JobQueue } from './types.js';


export interface ServerOptions {
  queue: JobQueue;
  /** Bearer token required on every route but /healthz. */
  apiKey?: string | undefined;
  bodyLimit?: number;
  /** Origin put in image URLs (e.g. behind a proxy); default: the request's own. */
  publicUrl?: string | undefined;
  logger?: boolean;
}

export interface RouteContext {
  queue: JobQueue;
  baseUrl(request: FastifyRequest): string;
}

export async function buildServer(o: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ bodyLimit: o.bodyLimit ?? DEFAULT_BODY_LIMIT, logger: o.logger ?? false });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const e = toHttpError(error);
    void reply.headers(e.headers).code(e.status).send(errorBody(e.status, e.message, e.param, e.code));
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(errorBody(404, `no route ${request.method} ${request.url.split('?')[0]}`));
  });
  if (o.apiKey !== undefined) await addAuth(app, o.apiKey);
  await app.register(fastifySSE, { heartbeatInterval: 15_000 });

  const registry = createMetrics(o.queue);
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/metrics', async (_request, reply) => {
    void reply.type(registry.contentType);
    return registry.metrics();
  });
  const context: RouteContext = { queue: o.queue, baseUrl: (r) => o.publicUrl?.replace(/\/+$/, '') ?? `${r.protocol}://${r.host}` };
  registerImageRoutes(app, context);
  registerJobRoutes(app, context);
  return app;
}

async function addAuth(app: FastifyInstance, key: string): Promise<void> {
  await app.register(bearerAuth, {
    keys: [key],
    addHook: false,
    errorResponse: (err) => errorBody(401, `${err.message}: send 'Authorization: Bearer <api key>'`) as unknown as { error: string },
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (request.url === '/healthz') return done();
    app.verifyBearerAuth!(request, reply, done);
  });
}

function toHttpError(error: FastifyError | Error): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof QueueFullError) return new HttpError(429, error.message, null, 'queue_full', { 'retry-after': String(error.retryAfterSeconds) });
  if (error instanceof ShuttingDownError) return new HttpError(503, error.message, null, 'shutting_down');
  const status = (error as FastifyError).statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) return new HttpError(status, error.message, null, (error as FastifyError).code ?? null);
  return new HttpError(500, `internal error: ${error.message}`);
}
