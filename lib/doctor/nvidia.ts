/**
 * The NVIDIA driver and GPUs as the system sees them, without the CUDA addon: the kernel module's
 * version (/proc/driver/nvidia/version) and `nvidia-smi`'s GPU list (when installed). Used by doctor
 * when the CUDA addon cannot say.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';

export interface SmiGpu {
  name: string;
  computeCapability: string;
  memoryMiB: number;
}

/** "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  ..." -> '580.65.06'. */
export async function kernelDriverVersion(file = '/proc/driver/nvidia/version'): Promise<string | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return /Kernel Module(?:\s+for\s+\S+)?\s+(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1];
}

export function nvidiaSmiGpus(timeoutMs = 10_000): Promise<SmiGpu[] | undefined> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=name,compute_cap,memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: timeoutMs }, (err, stdout) => {
      if (err) return resolve(undefined);
      resolve(
        stdout
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((line) => {
            const [name = '', cc = '', mem = ''] = line.split(',').map((s) => s.trim());
            return { name, computeCapability: cc, memoryMiB: Number(mem) };
          }),
      );
    });
  });
}
