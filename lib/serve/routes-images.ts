/**
 * OpenAI-compatible image routes: POST /v1/images/generations (JSON, or server-sent events with
 * `stream: true`) and GET /v1/images/files/:id/:index.png (the `url` response format).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { HttpError } from './http-error.js';
import { completedEvent, imageData, imagesResponse, partialImageEvent } from './image-response.js';
import { jobEvents } from './job-stream.js';
import { parseRequestBody } from './request-body.js';
import { isJobId } from './routes-jobs.js';
import type { RouteContext } from './server.js';
import { isFinal, type JobEvent, type JobInfo, type JobQueue } from './types.js';

const IMAGE_FILE = /^(\d{1,2})\.png$/;

export function registerImageRoutes(app: FastifyInstance, c: RouteContext): void {
  app.post('/v1/images/generations', { sse: 'manual' }, async (request, reply) => {
    const { request: job, stream } = parseRequestBody(request.body);
    const submitted = await c.queue.submit(job);
    const subscription = await jobEvents(c.queue, submitted.id);
    if (!subscription) throw new HttpError(500, 'the job vanished from the queue');
    cancelOnDisconnect(c.queue, submitted.id, reply);
    const { info, events } = subscription;
    if (stream) {
      await reply.sse!.send(openAiStream(info, events, c.baseUrl(request)));
      return;
    }
    for await (const event of events) {
      if (event.type === 'done') return imagesResponse(info, event.result, c.baseUrl(request));
      if (event.type === 'failed') throw new HttpError(500, `the generation failed: ${event.error}`, null, 'generation_failed');
      if (event.type === 'cancelled') throw new HttpError(409, 'the job was cancelled', null, 'cancelled');
    }
    throw new HttpError(500, 'the job ended without a result');
  });

  app.get<{ Params: { id: string; file: string } }>('/v1/images/files/:id/:file', async (request, reply) => {
    const m = IMAGE_FILE.exec(request.params.file);
    const info = m && isJobId(request.params.id) ? await c.queue.get(request.params.id) : undefined;
    const png = info?.result?.images[Number(m![1])]?.png;
    if (!png) throw new HttpError(404, 'no such image: unknown, or its job expired');
    return reply.type('image/png').send(png);
  });
}

/** A client that goes away before its answer stops its job: nobody would collect the images. */
function cancelOnDisconnect(queue: JobQueue, id: string, reply: FastifyReply): void {
  reply.raw.on('close', () => {
    if (reply.raw.writableFinished) return;
    void queue.get(id).then((info) => {
      if (info && !isFinal(info.state)) return queue.cancel(id);
      return undefined;
    });
  });
}

/** Job events in the shape OpenAI streams images: progress (no previews in the API yet), then completed images. */
async function* openAiStream(info: JobInfo, events: AsyncIterable<JobEvent>, baseUrl: string): AsyncGenerator<{ event: string; data: unknown }> {
  for await (const e of events) {
    if (e.type === 'queued') yield { event: 'image_generation.queued', data: { type: 'image_generation.queued', position: e.position } };
    if (e.type === 'step') yield { event: 'image_generation.progress', data: { type: 'image_generation.progress', index: e.image, step: e.step, steps: e.steps } };
    if (e.type === 'step' && e.preview !== undefined) yield { event: 'image_generation.partial_image', data: partialImageEvent(info, e.preview, e.partialIndex ?? 0, e.image) };
    if (e.type === 'done') {
      const data = imageData(info, e.result, baseUrl);
      for (let i = 0; i < data.length; i++) yield { event: 'image_generation.completed', data: completedEvent(info, data[i]!, i) };
    }
    if (e.type === 'failed') yield errorEvent(`the generation failed: ${e.error}`, 'generation_failed');
    if (e.type === 'cancelled') yield errorEvent('the job was cancelled', 'cancelled');
  }
}

function errorEvent(message: string, code: string): { event: string; data: unknown } {
  return { event: 'error', data: { type: 'error', error: { message, type: 'server_error', code } } };
}
