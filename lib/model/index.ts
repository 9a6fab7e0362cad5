export { resolveModel, problemsOf, assertUsable, describeConfigSource } from './resolve.js';
export type { ResolvedModel, WeightsComponent, VaeComponent, TokenizerComponent, SchedulerComponent } from './resolve.js';
export { detectLayout } from './layout.js';
export type { LayoutName, ModelFiles, LayoutFiles } from './layout.js';
export { formatPlanText, PLAN_VERSION } from './plan.js';
export type { WeightPlan, PlanTensor, PlanPiece, PlanConfigEntry } from './plan.js';
export { readSafetensorsHeader, parseSafetensorsHeader, MAX_HEADER_BYTES } from './safetensors.js';
export type { SafetensorsHeader, HeaderTensor } from './safetensors.js';
export { openTensorSource } from './tensor-source.js';
export { RELEASED_DIT, RELEASED_TEXT_ENCODER, RELEASED_VAE, RELEASED_SCHEDULER, defaultAxesDims } from './defaults.js';
export type { SafetensorsDType, PlanDType } from './dtype.js';
export type {
  ComponentName,
  ConfigSource,
  DitConfig,
  FileIdentity,
  ModelProblem,
  SchedulerConfig,
  StoredTensor,
  TensorSource,
  TextEncoderConfig,
  VaeConfig,
  WeightFormat,
} from './types.js';
