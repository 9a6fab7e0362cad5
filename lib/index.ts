/**
 * ovis-image: the Ovis-Image text-to-image model on a C++/CUDA engine. Everything exported here is
 * public and documented in the README's API reference; the rest of lib/ is internal.
 */
export { OvisImage } from './ovis-image.js';
export type { GenerateEvent, GenerateResult, GenerateTimings, UsedGenerateOptions } from './ovis-image.js';
export type { ModelSource } from './pipeline/model-source.js';
export type { ModelFiles } from './model/index.js';
export type { AbortSignalLike, Device, DownloadProgress, GenerateOptions, LoadOptions, LoadProgress, StepEvent } from './pipeline/public-options.js';
export { encodePng, decodePng, readPngText } from './pipeline/png.js';
export type { RgbImage, PngText, DecodedPng } from './pipeline/png.js';
export { randn, MAX_SEED } from './pipeline/rng.js';
export { OvisError, AbortError, ModelLoadError } from './errors.js';
export type { OvisErrorCode, ModelLoadErrorCode, HubErrorCode } from './errors.js';
export { downloadModel, DEFAULT_MODEL_ID } from './hub/index.js';
export type { DownloadModelOptions } from './hub/index.js';
export type { BackendInfo } from './native/backend-info.js';
export type { InitImageInput } from './pipeline/init-image.js';
export type { PreviewMode } from './pipeline/preview.js';
