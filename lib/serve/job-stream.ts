/** A job's events as an async iterator: its current state first, then what happens until it ends. */
import { EventChannel } from '../pipeline/event-channel.js';
import type { JobEvent, JobInfo, JobQueue } from './types.js';

/** The event that tells a subscriber arriving now where the job stands; undefined for an unknown job. */
export function currentEvent(info: JobInfo): JobEvent {
  switch (info.state) {
    case 'queued':
      return { type: 'queued', position: info.position ?? 0 };
    case 'running':
      return { type: 'step', step: info.step ?? 0, steps: info.steps ?? info.request.steps, image: info.image ?? 0 };
    case 'succeeded':
      return { type: 'done', result: info.result! };
    case 'failed':
      return { type: 'failed', error: info.error ?? 'failed' };
    case 'cancelled':
      return { type: 'cancelled' };
  }
}

export function isLast(event: JobEvent): boolean {
  return event.type === 'done' || event.type === 'failed' || event.type === 'cancelled';
}

/**
 * Subscribes before reading the state, so nothing is lost in between; a final event ends the stream.
 * Returns undefined when the job does not exist.
 */
export async function jobEvents(queue: JobQueue, id: string): Promise<{ info: JobInfo; events: AsyncGenerator<JobEvent> } | undefined> {
  const channel = new EventChannel<JobEvent>({ onReturn: () => unsubscribe() });
  const unsubscribe = queue.subscribe(id, (event) => {
    channel.push(event);
    if (isLast(event)) {
      unsubscribe();
      channel.end();
    }
  });
  const info = await queue.get(id);
  if (!info) {
    unsubscribe();
    return undefined;
  }
  const first = currentEvent(info);
  const events = (async function* () {
    try {
      yield first;
      if (isLast(first)) return;
      for await (const event of channel) yield event;
    } finally {
      unsubscribe();
      void channel.return();
    }
  })();
  return { info, events };
}
