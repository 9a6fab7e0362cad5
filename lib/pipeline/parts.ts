/**
 * What the pipeline needs from the other layers, as narrow interfaces: the native engine (lib/native),
 * the prompt tokenizer (lib/tokenizer) and what model resolution found (lib/model). OvisImage.load
 * wires the real ones; tests may pass fakes.
 */
import type { NativeGenerateRequest, NativeGenerateResult, NativeStepEvent } from '../../types/native.js';
import type { BackendInfo } from '../native/binding.js';
import type { ScheduleConfig } from './schedule.js';

export interface PipelineEngine {
  readonly backendName: string;
  generate(request: NativeGenerateRequest, onStep?: (e: NativeStepEvent) => void): Promise<NativeGenerateResult>;
  /** Makes the running generate reject with code ABORT_ERR at its next check. */
  cancel(): void;
  dispose(): Promise<void>;
}

export interface EncodedPrompt {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  /** The prompt was longer than the token budget and lost its end. */
  truncated: boolean;
}

export interface PipelineTokenizer {
  encode(prompt: string): EncodedPrompt | Promise<EncodedPrompt>;
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
