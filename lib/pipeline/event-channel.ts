/** A push-to-pull bridge: producers push events, one consumer iterates them with for await. */
export interface EventChannelHooks {
  /** Runs when the consumer stops early (break, return, throw in the loop body). */
  onReturn?: () => void;
  /** Runs once, when the consumer first asks for an event (lets the producer start lazily). */
  onFirstNext?: () => void;
}

export class EventChannel<T> implements AsyncIterableIterator<T> {
  private readonly buffered: T[] = [];
  private waiting: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void } | undefined;
  private done = false;
  private failure: { error: unknown } | undefined;
  private readonly hooks: EventChannelHooks;
  private started = false;

  constructor(hooks: EventChannelHooks = {}) {
    this.hooks = hooks;
  }

  push(value: T): void {
    if (this.done) return;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w.resolve({ value, done: false });
    } else {
      this.buffered.push(value);
    }
  }

  end(): void {
    this.settle();
  }

  fail(error: unknown): void {
    this.settle({ error });
  }

  private settle(failure?: { error: unknown }): void {
    if (this.done) return;
    this.done = true;
    this.failure = failure;
    const w = this.waiting;
    this.waiting = undefined;
    if (!w) return;
    if (failure) w.reject(failure.error);
    else w.resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<T>> {
    if (!this.started) {
      this.started = true;
      this.hooks.onFirstNext?.();
    }
    const value = this.buffered.shift();
    if (value !== undefined) return Promise.resolve({ value, done: false });
    if (this.done) {
      if (this.failure) {
        const { error } = this.failure;
        this.failure = undefined; // report the failure once
        return Promise.reject(error);
      }
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.started = true; // never start after the consumer is gone
    if (!this.done) {
      this.done = true;
      this.buffered.length = 0;
      this.hooks.onReturn?.();
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }
}
