/** Fan-out of job events to the listeners of one job and to listeners of all jobs. */
import type { JobEvent } from './types.js';

type Listener = (event: JobEvent) => void;
type AnyListener = (id: string, event: JobEvent) => void;

export class JobEvents {
  private readonly byJob = new Map<string, Set<Listener>>();
  private readonly all = new Set<AnyListener>();

  emit(id: string, event: JobEvent): void {
    for (const l of this.all) l(id, event);
    for (const l of this.byJob.get(id) ?? []) l(event);
  }

  subscribe(id: string, listener: Listener): () => void {
    let set = this.byJob.get(id);
    if (!set) this.byJob.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byJob.get(id) === set) this.byJob.delete(id);
    };
  }

  subscribeAll(listener: AnyListener): () => void {
    this.all.add(listener);
    return () => this.all.delete(listener);
  }
}
