/**
 * `ovis-image doctor [--json]`: what this machine and install can run (lib/doctor), every problem with
 * what to do. Exits 0 whenever it could report, problems or not.
 */
import type { Command } from 'commander';
import { collectReport, type DoctorReport } from '../doctor/index.js';

function gib(bytes: number | undefined): string {
  return bytes === undefined ? 'unknown' : `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

function cudaAddonText(r: DoctorReport): string[] {
  const p = r.cudaAddon.probe;
  const missing = r.cudaAddon.looked.filter((l) => !l.exists).map((l) => l.file);
  if (p.addonPath === undefined) return [`none (looked for ${missing.join(', ')})`];
  const d = r.driver;
  const build = d.runtime ? ` (CUDA runtime ${d.runtime}${d.archs ? `, code for ${d.archs}` : ''})` : '';
  return [`${p.addonPath}${build}: ${p.ok ? `loads, sees ${p.deviceCount} GPU${p.deviceCount === 1 ? '' : 's'}` : `not usable: ${p.reason}`}`];
}

function cublasText(r: DoctorReport): string[] {
  const f = r.cublas.found;
  if (f) return [`${f.file} (version ${f.version ?? 'unknown'}, from ${f.place})`];
  return [
    `not found${r.cublas.cuda12.length ? `; CUDA 12's only: ${r.cublas.cuda12.join(', ')}` : ''}; looked at:`,
    ...r.cublas.looked.map((l) => `  ${l.place}: ${l.file}`),
  ];
}

function textReport(r: DoctorReport): string {
  const s = r.system;
  const features = s.cpu.features ? Object.entries(s.cpu.features).map(([k, v]) => `${k} ${v ? 'yes' : 'no'}`).join(', ') : 'unknown';
  const rows: [string, string[]][] = [
    ['node', [`${s.node}, N-API ${s.napi ?? 'unknown'}, ${s.platform}, glibc ${s.glibc ?? 'unknown'}`]],
    ['cpu', [`${s.cpu.model} (${s.cpu.cores} threads): ${features}`]],
    ['cpu addon', [r.cpuAddon.loads ? `${r.cpuAddon.file} (${r.cpuAddon.source}): loads` : `does not load: ${r.cpuAddon.error}`]],
    ['cuda addon', cudaAddonText(r)],
    ['nvidia driver', [r.driver.kernelModule || r.driver.cudaVersion ? `${r.driver.kernelModule ?? 'kernel module version unknown'}${r.driver.cudaVersion ? `, supports CUDA ${r.driver.cudaVersion}` : ''}` : 'none found (no /proc/driver/nvidia/version)']],
    ['gpus', r.gpus.length ? r.gpus.map((g) => `${g.index}: ${g.name}, compute capability ${g.computeCapability}, ${g.memoryGiB.toFixed(1)} GiB${g.problem ? ' (cannot run this build)' : ''}`) : ['none']],
    ['cublasLt', cublasText(r)],
    ['device auto', ['error' in r.auto ? `no addon loads: ${r.auto.error}` : `${r.auto.device}: ${r.auto.reason}`]],
    ['hf cache', [`${r.hfCache.dir}, ${gib(r.hfCache.freeBytes)} free`]],
  ];
  const lines = rows.flatMap(([k, v]) => v.map((line, i) => `${(i === 0 ? k : '').padEnd(14)}${line}`));
  lines.push(r.problems.length ? `problems (${r.problems.length}):` : 'problems: none');
  for (const p of r.problems) lines.push(`  - ${p.what}`, `    fix: ${p.fix}`);
  return lines.join('\n') + '\n';
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check what this machine can run: Node, CPU, the addons, NVIDIA driver and GPUs, cuBLAS, the HF cache')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      const report = await collectReport();
      process.stdout.write(options.json ? JSON.stringify(report, null, 2) + '\n' : textReport(report));
    });
}
