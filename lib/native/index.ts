export { loadBinding, loadCpuBinding, loadCudaBinding, selectBackend, cpuBackend, formatBackendInfo, packageRoot } from './binding.js';
export type { BackendInfo, BindingKind } from './binding.js';
export { chooseBackend, type BackendChoice, type CudaProbeResult } from './backend-choice.js';
export { probeCuda, probeAddonFile } from './cuda-probe.js';
export { cpuAddonPath, cudaAddonCandidates, cudaPrebuildPath } from './addon-files.js';
export { NativeModelEngine, fromNativeError } from './engine.js';
export type { NativeModelEngineOptions, NativeCallOptions } from './engine.js';
