/**
 * Which device the real-engine tests run on: OVIS_TEST_DEVICE ('cpu' by default, or 'cuda') and, for
 * CUDA, OVIS_TEST_PRECISION ('fp32' by default, or 'bf16'). fp32 keeps the CPU bounds; bf16 gets
 * looser ones (3e-2 relative to the float32 reference). With 'cuda' the engines must really run on
 * CUDA: loading fails (OVIS_UNAVAILABLE) when the CUDA addon or a GPU is missing, and
 * expectOnTestDevice() fails a test whose engine fell back to the CPU.
 */
import { expect } from 'vitest';

export interface TestDevice {
  device: 'cpu' | 'cuda';
  precision: 'fp32' | 'bf16';
  /** For test titles: 'cpu', 'cuda fp32', 'cuda bf16'. */
  label: string;
}

export function testDevice(env: NodeJS.ProcessEnv = process.env): TestDevice {
  const device = env.OVIS_TEST_DEVICE || 'cpu';
  const precision = env.OVIS_TEST_PRECISION || 'fp32';
  if (device !== 'cpu' && device !== 'cuda') throw new Error(`OVIS_TEST_DEVICE must be 'cpu' or 'cuda' (got ${JSON.stringify(device)})`);
  if (precision !== 'fp32' && precision !== 'bf16') {
    throw new Error(`OVIS_TEST_PRECISION must be 'fp32' or 'bf16' (got ${JSON.stringify(precision)})`);
  }
  if (device === 'cpu' && precision !== 'fp32') throw new Error('OVIS_TEST_PRECISION=bf16 needs OVIS_TEST_DEVICE=cuda (the CPU computes in f32)');
  return { device, precision, label: device === 'cpu' ? 'cpu' : `cuda ${precision}` };
}

export const TEST_DEVICE = testDevice();

/** Load/create options that put an engine on the test device (threads only matter on the CPU). */
export function deviceOptions(threads: number): { device: 'cpu' | 'cuda'; precision: 'fp32' | 'bf16'; threads: number } {
  return { device: TEST_DEVICE.device, precision: TEST_DEVICE.precision, threads };
}

/** bf16 runs get 3e-2 (relative to the float32 reference) where the CPU bound is tighter. */
export function tolerance(cpuBound: number): number {
  return TEST_DEVICE.precision === 'bf16' ? Math.max(cpuBound, 3e-2) : cpuBound;
}

/** Fails unless the backend name ('cpu', 'cuda:0', ...) belongs to the test device. */
export function expectOnTestDevice(backendName: string): void {
  expect(backendName, `OVIS_TEST_DEVICE=${TEST_DEVICE.device} but the engine runs on ${backendName}`).toMatch(
    TEST_DEVICE.device === 'cuda' ? /^cuda/ : /^cpu/,
  );
}
