/** ovis-image: the Ovis-Image text-to-image model on a C++/CUDA engine. */
export { OvisImage, SAMPLER_NAME } from './ovis-image.js';
export type { GenerateEvent, GenerateResult, GenerateTimings } from './ovis-image.js';
export type { ModelSource } from './pipeline/load-parts.js';
export type { ModelFiles } from './model/index.js';
export type { GenerateOptions, LoadOptions, LoadProgress, StepEvent } from './pipeline/options.js';
export { encodePng, decodePng, readPngText } from './pipeline/png.js';
export type { RgbImage, PngText, DecodedPng } from './pipeline/png.js';
export { randn, randomSeed, MAX_SEED } from './pipeline/rng.js';
export { computeSchedule, imageTokenCount } from './pipeline/schedule.js';
export type { Schedule, ScheduleConfig } from './pipeline/schedule.js';
export { OvisError, AbortError, ModelLoadError } from './errors.js';
export type { OvisErrorCode, ModelLoadErrorCode, HubErrorCode } from './errors.js';
export { downloadModel, DEFAULT_MODEL_ID } from './hub/index.js';
export type { DownloadModelOptions, DownloadProgress } from './hub/index.js';
export type { BackendInfo } from './native/binding.js';
