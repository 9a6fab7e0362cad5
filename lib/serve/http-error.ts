/** Errors answered as JSON in OpenAI's shape: { error: { message, type, param, code } }. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** The request field at fault, when there is one. */
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export function errorBody(status: number, message: string, param: string | null = null, code: string | null = null): ErrorBody {
  const type = status === 401 ? 'authentication_error' : status === 429 ? 'rate_limit_error' : status < 500 ? 'invalid_request_error' : 'server_error';
  return { error: { message, type, param, code } };
}
