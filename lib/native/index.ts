export { loadBinding, loadCpuBinding, loadCudaBinding, selectBackend, cpuBackend, formatBackendInfo, packageRoot } from './binding.js';
export type { BackendInfo, BindingKind } from './binding.js';
export { chooseBackend, type BackendChoice, type CudaProbeResult } from './backend-choice.js';
export { probeCuda, probeAddonFile, cachedProbe, type ProbeOptions } from './cuda-probe.js';
export { archRuns, archsText, driverProblem, gpuProblem, cudaVersionText, DRIVER_NEEDED, type CudaInfo, type GpuInfo } from './cuda-checks.js';
export { cpuAddonPath, cudaAddonCandidates, cudaPrebuildPath, cudaBuildPath } from './addon-files.js';
export { NativeModelEngine, fromNativeError } from './engine.js';
export type { NativeModelEngineOptions, NativeCallOptions } from './engine.js';
