/**
 * What a `device` and a `threads` option may be: checked here only, for the load options and the
 * native engine wrapper. The addon checks the same limits (cpp/addon/limits.h; a test compares them).
 */
import { availableParallelism } from 'node:os';

/** Where a model runs: the CPU, the first or the N-th CUDA GPU, or 'auto' (CUDA when usable, else CPU). */
export type Device = 'auto' | 'cpu' | 'cuda' | `cuda:${number}`;

/** Most CPU threads accepted; requests above the core count are capped at it (see resolveThreads). */
export const MAX_THREADS = 1024;
/** Most digits of N in 'cuda:N'. */
export const MAX_DEVICE_DIGITS = 3;

const DEVICE_PATTERN = new RegExp(`^(auto|cpu|cuda|cuda:\\d{1,${MAX_DEVICE_DIGITS}})$`);

export const DEVICE_RULE = "must be 'auto', 'cpu', 'cuda' or 'cuda:N' (N: a GPU index, 0-999)";
export const THREADS_RULE = `must be an integer in [0, ${MAX_THREADS}] (0 = all cores; more than the cores are capped at the core count)`;

export function isDevice(value: unknown): value is Device {
  return typeof value === 'string' && DEVICE_PATTERN.test(value);
}

export function isThreadCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_THREADS;
}

/**
 * The thread count an engine gets: more threads than cores only slow the CPU engine down (they take
 * turns on the cores and wait on each other at every barrier), so a request above the core count is
 * capped at it. 0 stays 0 (the engine uses every core).
 */
export function resolveThreads(requested: number, cores: number = availableParallelism()): number {
  return Math.min(requested, Math.max(1, cores));
}
