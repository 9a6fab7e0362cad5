/** Serving defaults, in a module of their own so the CLI can show them without loading the server. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_MAX_QUEUE = 64;
export const DEFAULT_RESULT_TTL_SECONDS = 600;
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 30;
export const DEFAULT_STALL_MS = 30_000;
