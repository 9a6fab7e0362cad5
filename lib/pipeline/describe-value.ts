/** A short, readable rendering of any value for error messages ("(got ...)"). */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number') return String(v); // NaN and ±Infinity as such (JSON would say null)
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'string' && v.length > 60) return `a string of ${v.length} characters`;
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return v.toString();
  if (ArrayBuffer.isView(v)) return `${v.constructor.name} of length ${(v as unknown as ArrayLike<unknown>).length}`;
  try {
    const s = JSON.stringify(v, (_key, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? String(x) : typeof x === 'bigint' ? `${x}n` : x));
    return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}
