export { findCublasLt, cublasCandidates, cublasMissingReason, CUBLAS_FIX } from './find-cublaslt.js';
export type { CublasSearch, CublasLookup, CublasLtFile, FindOptions } from './find-cublaslt.js';
export { CUBLASLT_13, CUBLASLT_12, CUBLAS_LIBRARIES, cublasCacheDir, ovisCacheDir, type CublasPlace } from './places.js';
export { setupCublas, type SetupOptions, type SetupProgress, type SetupResult } from './setup-cublas.js';
export { indexUrl, DEFAULT_INDEX_URL } from './wheel-index.js';
