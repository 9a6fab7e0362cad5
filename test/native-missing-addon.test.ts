/** The error an app gets when the CPU addon was never built (npm install --ignore-scripts). */
import { describe, expect, it, vi } from 'vitest';

vi.mock('../lib/native/addon-files.js', async (original) => ({
  ...(await original<typeof import('../lib/native/addon-files.js')>()),
  cpuAddonPath: () => {
    throw new Error('No native build was found for platform=linux arch=x64 runtime=node abi=115 uv=1 libc=glibc node=20.20.2\n    loaded from: /app/node_modules/ovis-image\n');
  },
}));

const { loadCpuBinding } = await import('../lib/native/binding.js');

describe('a missing CPU addon', () => {
  it('is one line of OVIS_UNAVAILABLE that says to run npm rebuild ovis-image --build-from-source', () => {
    let err: (Error & { code?: string }) | undefined;
    try {
      loadCpuBinding();
    } catch (e) {
      err = e as Error & { code?: string };
    }
    expect(err?.code).toBe('OVIS_UNAVAILABLE');
    expect(err!.message).not.toContain('\n');
    expect(err!.message).toContain('`npm rebuild ovis-image --build-from-source`');
    expect(err!.message).not.toContain('npm run build:native');
    expect((err!.cause as Error).message).toMatch(/No native build was found/);
  });
});
