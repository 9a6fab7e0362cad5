/**
 * How one canonical tensor is assembled from stored tensors: the pieces, in order, with the shape
 * each stored tensor must have. Pieces are concatenated along axis 0 (a `rows` range takes a slice).
 */
export interface PieceSpec {
  key: string; // stored key, without the component's prefix
  shape: number[]; // expected stored shape
  rows?: [number, number]; // take only these rows (axis 0) of the stored tensor
}

export interface TensorSpec {
  name: string; // canonical name (docs/WEIGHTS.md)
  shape: number[];
  pieces: PieceSpec[];
}

/** One source Linear (or 1x1 conv) feeding a canonical Linear. */
export interface LinearPart {
  key: string; // without `.weight` / `.bias`
  out: number; // stored output rows
  take?: [number, number]; // rows to use, default all
  conv1x1?: boolean; // stored as [out, in, 1, 1]
}

/** A canonical Linear `<name>.{weight,bias}` = the parts' rows stacked. */
export function linear(name: string, inDim: number, parts: LinearPart[], bias = true): TensorSpec[] {
  const rows = parts.reduce((sum, p) => sum + (p.take ? p.take[1] - p.take[0] : p.out), 0);
  const weight: TensorSpec = {
    name: `${name}.weight`,
    shape: [rows, inDim],
    pieces: parts.map((p) => ({ key: `${p.key}.weight`, shape: p.conv1x1 ? [p.out, inDim, 1, 1] : [p.out, inDim], ...(p.take ? { rows: p.take } : {}) })),
  };
  if (!bias) return [weight];
  const b: TensorSpec = {
    name: `${name}.bias`,
    shape: [rows],
    pieces: parts.map((p) => ({ key: `${p.key}.bias`, shape: [p.out], ...(p.take ? { rows: p.take } : {}) })),
  };
  return [weight, b];
}

/** A vector stored as-is (norm weights). */
export function vector(name: string, key: string, size: number): TensorSpec {
  return { name, shape: [size], pieces: [{ key, shape: [size] }] };
}

/** A conv `<name>.{weight,bias}` with an NCHW [out, in, k, k] kernel. */
export function conv(name: string, key: string, out: number, inDim: number, k: number): TensorSpec[] {
  return [
    { name: `${name}.weight`, shape: [out, inDim, k, k], pieces: [{ key: `${key}.weight`, shape: [out, inDim, k, k] }] },
    vector(`${name}.bias`, `${key}.bias`, out),
  ];
}

/** An affine norm `<name>.{weight,bias}` over `c` channels. */
export function affineNorm(name: string, key: string, c: number): TensorSpec[] {
  return [vector(`${name}.weight`, `${key}.weight`, c), vector(`${name}.bias`, `${key}.bias`, c)];
}
