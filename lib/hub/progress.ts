/** One progress report: the file it is about and the totals over every file of the download. */
export interface DownloadProgress {
  file: string; // repo path, e.g. "transformer/diffusion_pytorch_model-00001-of-00003.safetensors"
  fileBytes: number;
  fileTotal: number;
  bytes: number; // all files: bytes in the cache (finished or partial)
  total: number;
  filesDone: number;
  filesTotal: number;
}

export type ProgressCallback = (p: DownloadProgress) => void;

/** Keeps per-file byte counts and reports them with the running totals. */
export class ProgressTracker {
  private readonly fileBytes = new Map<string, number>();
  private bytes = 0;
  private filesDone = 0;

  constructor(
    private readonly total: number,
    private readonly filesTotal: number,
    private readonly onProgress: ProgressCallback | undefined,
  ) {}

  update(file: string, fileTotal: number, fileBytes: number): void {
    this.bytes += fileBytes - (this.fileBytes.get(file) ?? 0);
    this.fileBytes.set(file, fileBytes);
    this.emit(file, fileTotal);
  }

  fileDone(file: string, fileTotal: number): void {
    this.filesDone++;
    this.update(file, fileTotal, fileTotal);
  }

  private emit(file: string, fileTotal: number): void {
    this.onProgress?.({
      file,
      fileBytes: this.fileBytes.get(file) ?? 0,
      fileTotal,
      bytes: this.bytes,
      total: this.total,
      filesDone: this.filesDone,
      filesTotal: this.filesTotal,
    });
  }
}
