export { collectReport, type DoctorReport, type GpuLine } from './collect.js';
export type { Problem } from './problems.js';
