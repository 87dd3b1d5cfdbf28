// A running engram that cannot be reached: the commands that call it with fetch directly
// (mcp, cube export/import, import --from) say where they looked and what to do, as the SDK's
// commands do (network_error), instead of fetch's bare "fetch failed".

export const UNREACHABLE_HINT = 'is engram running there? start it with `engram serve`, or give its address with --url (or ENGRAM_URL).';

export class ServerUnreachableError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`engram unreachable at ${url}: ${reason(cause)}`, { cause });
    this.name = 'ServerUnreachableError';
  }
}

/** fetch's own failure (no HTTP answer at all): a TypeError whose cause is the socket error. */
export function isNetworkFailure(error: unknown): boolean {
  return error instanceof TypeError && /fetch failed/i.test(error.message);
}

function reason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}

/** fetch, with a failure to reach the server named as such. */
export async function fetchEngram(url: string, target: URL, init?: RequestInit): Promise<Response> {
  try {
    return await fetch(target, init);
  } catch (error) {
    throw isNetworkFailure(error) ? new ServerUnreachableError(url, error) : error;
  }
}
