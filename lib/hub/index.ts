export { DEFAULT_MODEL_ID, isHubModelId, parseHubModelId, type HubModelRef } from './model-id.js';
export { downloadModel, type DownloadModelOptions } from './download-model.js';
export { type DownloadProgress, type ProgressCallback } from './progress.js';
export { defaultHubCacheDir, resolveHubSettings, type HubSettings } from './settings.js';
export { checkSnapshot, type SnapshotReport } from './snapshot-check.js';
export { selectModelFiles, type RepoLayout } from './file-selection.js';
