import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, decodePng, encodePng, readPngText } from '../lib/pipeline/png.js';

function randomImage(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return data;
}

describe('png', () => {
  it('computes the PNG CRC-32', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    if (typeof zlibCrc32 === 'function') {
      const b = Buffer.from(randomImage(7, 5));
      expect(crc32(b)).toBe(zlibCrc32(b));
    }
  });

  it('round-trips pixels and text metadata', async () => {
    const width = 48;
    const height = 32;
    const data = randomImage(width, height);
    const text = {
      prompt: 'A poster with the text "HELLO"\nsecond line',
      negative_prompt: '一只戴着帽子的猫',
      steps: '50',
      seed: '18446744073709551615',
      sampler: 'euler (flow matching)',
    };
    const file = await encodePng({ width, height, data }, text);
    expect(file.subarray(1, 4).toString()).toBe('PNG');
    const back = decodePng(file);
    expect(back.width).toBe(width);
    expect(back.height).toBe(height);
    expect(Buffer.from(back.data).equals(Buffer.from(data))).toBe(true);
    expect(back.text).toEqual(text);
  });

  it('detects a corrupted chunk', async () => {
    const file = await encodePng({ width: 16, height: 16, data: randomImage(16, 16) }, { prompt: 'x' });
    const bad = Buffer.from(file);
    bad.writeUInt8(bad.readUInt8(8 + 25 + 8 + 3) ^ 1, 8 + 25 + 8 + 3); // inside the first text chunk's body
    expect(() => readPngText(bad)).toThrow(/CRC/);
  });

  it('rejects data of the wrong size', async () => {
    await expect(encodePng({ width: 4, height: 4, data: new Uint8Array(10) })).rejects.toThrow(RangeError);
  });
});
