import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_ID, isHubModelId, parseHubModelId } from '../lib/hub/index.js';
import { selectModelFiles } from '../lib/hub/file-selection.js';

describe('hub model ids', () => {
  it('parses owner/name and owner/name@revision', () => {
    expect(DEFAULT_MODEL_ID).toBe('AIDC-AI/Ovis-Image-7B');
    expect(parseHubModelId('AIDC-AI/Ovis-Image-7B')).toEqual({ repoId: 'AIDC-AI/Ovis-Image-7B', revision: undefined });
    expect(parseHubModelId('a/b@refs/pr/1')).toEqual({ repoId: 'a/b', revision: 'refs/pr/1' });
    for (const bad of ['Ovis-Image-7B', 'a/b/c', '/abs/path', './a/b', 'a/b@', 'a--x/b', 'a/..', 'a/b c', '~/models', 'a/-b']) {
      expect(parseHubModelId(bad), bad).toBeUndefined();
    }
  });

  it('prefers an existing local path over a repo of the same shape', () => {
    const cwd = process.cwd();
    const dir = mkdtempSync(join(tmpdir(), 'ovis-id-'));
    mkdirSync(join(dir, 'models', 'ovis'), { recursive: true });
    process.chdir(dir);
    try {
      expect(isHubModelId('models/ovis')).toBe(false);
      expect(isHubModelId('models/other')).toBe(true);
      expect(isHubModelId('AIDC-AI/Ovis-Image-7B@main')).toBe(true);
      expect(isHubModelId('just-a-name')).toBe(false);
    } finally {
      process.chdir(cwd);
    }
  });
});

describe('file selection', () => {
  it('keeps only what the engine reads from a diffusers repo', () => {
    const paths = [
      '.gitattributes', 'README.md', 'assets/demo.png', 'model_index.json', 'scheduler/scheduler_config.json',
      'text_encoder/config.json', 'text_encoder/model-00001-of-00002.safetensors', 'text_encoder/model-00002-of-00002.safetensors',
      'text_encoder/model.safetensors.index.json', 'text_encoder/pytorch_model.bin', 'text_encoder/generation_config.json',
      'tokenizer/tokenizer.json', 'tokenizer/chat_template.jinja', 'transformer/config.json',
      'transformer/diffusion_pytorch_model.safetensors', 'transformer/diffusion_pytorch_model.bin', 'vae/config.json',
      'vae/diffusion_pytorch_model.safetensors', 'vae/diffusion_pytorch_model.onnx', 'ovis_image.safetensors', 'ae.safetensors',
    ];
    const sel = selectModelFiles(paths);
    expect(sel?.layout).toBe('diffusers');
    expect(sel?.files).toEqual([
      'model_index.json', 'scheduler/scheduler_config.json', 'text_encoder/config.json',
      'text_encoder/model-00001-of-00002.safetensors', 'text_encoder/model-00002-of-00002.safetensors',
      'text_encoder/model.safetensors.index.json', 'tokenizer/tokenizer.json', 'tokenizer/chat_template.jinja',
      'transformer/config.json', 'transformer/diffusion_pytorch_model.safetensors', 'vae/config.json',
      'vae/diffusion_pytorch_model.safetensors',
    ]);
  });

  it('keeps only what the engine reads from an official repo', () => {
    const sel = selectModelFiles([
      'README.md', 'ovis_image.safetensors', 'ae.safetensors', 'Ovis2.5-2B/config.json', 'Ovis2.5-2B/model.safetensors',
      'Ovis2.5-2B/tokenizer.json', 'Ovis2.5-2B/chat_template.jinja', 'Ovis2.5-2B/modeling_ovis.py', 'Ovis2.5-2B/pytorch_model.bin',
    ]);
    expect(sel).toEqual({
      layout: 'official',
      files: ['ovis_image.safetensors', 'ae.safetensors', 'Ovis2.5-2B/config.json', 'Ovis2.5-2B/model.safetensors', 'Ovis2.5-2B/tokenizer.json', 'Ovis2.5-2B/chat_template.jinja'],
    });
    expect(selectModelFiles(['README.md', 'model.ckpt'])).toBeUndefined();
  });
});
