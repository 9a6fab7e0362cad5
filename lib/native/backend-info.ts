/** What a load runs on, and why (a plain type, so the public typings need no Node types). */

/** What a load runs on, and why. */
export interface BackendInfo {
  /** The device option as given: 'auto', 'cpu', 'cuda' or 'cuda:N'. */
  requested: string;
  /** The addon variant used. */
  backend: 'cpu' | 'cuda';
  /** The device the engine was created on: 'cpu', 'cuda' or 'cuda:N'. */
  device: string;
  /** The .node file loaded. */
  addonPath: string;
  /** 'prebuilt' or 'built from source' for the CPU addon; 'cuda' for the CUDA addon; 'custom' for a custom engine. */
  addonSource: 'prebuilt' | 'built from source' | 'cuda' | 'custom';
  /** Why this backend, e.g. "device 'auto': CPU, because CUDA is not usable: no CUDA build ...". */
  reason: string;
}
