export { findCublasLt, cublasCandidates, cublasMissingReason, CUBLAS_FIX } from './find-cublaslt.js';
export type { CublasSearch, CublasLookup, CublasLtFile, FindOptions } from './find-cublaslt.js';
export { CUBLASLT_13, CUBLASLT_12, CUBLAS_LIBRARIES, cublasCacheDir, ovisCacheDir, type CublasPlace } from './places.js';
