// The C++ golden tests load the tiny model through a plan the TypeScript planner wrote
// (test/fixtures/plans/tiny-original.plan), not through a C++ copy of the key mapping. This test
// fails when the planner's output drifts from that file; `npx vitest run test/plan-fixture.test.ts -u`
// rewrites it (then rerun ctest: it checks the plan against the C++ models' declared tensors).
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveModel } from '../lib/model/index.js';
import { portablePlanText } from './helpers/portable-plan.js';

const GOLDEN = fileURLToPath(new URL('./fixtures/golden', import.meta.url));

describe('plan fixture for the C++ tests', () => {
  it('is what the TS planner writes for the tiny original-layout model', async () => {
    const model = await resolveModel(path.join(GOLDEN, 'tiny-original'));
    expect(model.problems).toEqual([]);
    const text = portablePlanText(model.plan, GOLDEN);
    expect(text).toContain('file 0 0 0 0 0 "/@golden/tiny-original/');
    await expect(text).toMatchFileSnapshot('./fixtures/plans/tiny-original.plan');
  });

  it('names every file relative to the golden folder, so any checkout reads it', () => {
    const plan = { config: [], tensors: [{ name: 'x', dtype: 'bf16' as const, shape: [1], pieces: [{ file: '/elsewhere/a.safetensors', offset: 0, dtype: 'bf16' as const, shape: [1], source: 'x' }] }], files: new Map() };
    expect(() => portablePlanText(plan, GOLDEN)).toThrow(/is not under/);
  });
});
