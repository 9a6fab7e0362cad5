/**
 * Flag strings → API values. Nothing is range-checked here: a value that is not a number becomes NaN and
 * the API's option schema (the one list of ranges) refuses it; flag-names.ts rewords its error.
 */

/** Integers only: "12" → 12; "1.5", "abc", "0x10" → NaN. */
export function intFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return /^[+-]?\d+$/.test(value.trim()) ? Number(value) : NaN;
}

/** Any decimal number, NaN and ±Infinity included as typed; empty → NaN. */
export function numberFlag(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  return value.trim() === '' ? NaN : Number(value);
}

/** Seeds go past 2^53: integers become bigints (negative ones too, for the schema to refuse). */
export function seedFlag(value: string | undefined): bigint | number | undefined {
  if (value === undefined) return undefined;
  return /^[+-]?\d+$/.test(value.trim()) ? BigInt(value.trim()) : NaN;
}
