/**
 * What the pipeline needs from the other layers, as narrow interfaces: the native engine (lib/native),
 * the prompt tokenizer (lib/tokenizer) and what model resolution found (lib/model). OvisImage.load
 * wires the real ones; tests may pass fakes.
 */
import type { NativeGenerateRequest, NativeGenerateResult, NativeStepEvent } from '../../types/native.js';
import type { BackendInfo } from '../native/backend-info.js';
import type { NativeCallOptions } from '../native/engine.js';
import type { ScheduleConfig } from './schedule.js';

/**
 * The engine queues calls in call order and owns their abort path (lib/native/engine.ts): a signal
 * that fires before a call settles makes it reject with AbortError; dispose() rejects pending calls
 * with OVIS_DISPOSED.
 */
export interface PipelineEngine {
  readonly backendName: string;
  generate(request: NativeGenerateRequest, onStep?: (e: NativeStepEvent) => void, options?: NativeCallOptions): Promise<NativeGenerateResult>;
  dispose(): Promise<void>;
}

export interface EncodedPrompt {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  /** The prompt was longer than the token budget and lost its end. */
  truncated: boolean;
}

/** Synchronous, so a generate() call has its input ready, and its place in the queue, when it returns. */
export interface PipelineTokenizer {
  encode(prompt: string): EncodedPrompt;
}

export interface PipelineParts {
  engine: PipelineEngine;
  tokenizer: PipelineTokenizer;
  scheduler: ScheduleConfig;
  /** Leading token rows the engine drops after text encoding (the fixed chat prefix, 28). */
  dropPrefix: number;
  /** A short model name for metadata, e.g. the folder name or the Hub model id. */
  modelName: string;
  /** Which addon and device run the model and why (set by OvisImage.load; absent for custom parts). */
  backendInfo?: BackendInfo;
}
