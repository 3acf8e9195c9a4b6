import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error of a `/eucaim/` call: HTTP status (0 when the server did not answer), kind and message. */
export class EucaimError extends Error {
  constructor(
    readonly status: number,
    readonly kind: string,
    message: string
  ) {
    super(message);
    this.name = 'EucaimError';
  }
}

/** Default time limit of one call; the panel sets it from its settings. */
let defaultTimeoutMs = 15000;

export function setRequestTimeout(ms: number): void {
  defaultTimeoutMs = ms > 0 ? ms : defaultTimeoutMs;
}

/**
 * Call the server extension's REST API: `endPoint` is relative to `<base_url>/eucaim/`. Answers are JSON;
 * errors become {@link EucaimError} with the server's `error` kind and `message`. A call that takes longer
 * than `timeoutMs` is aborted, so a server that went away never leaves the panel waiting.
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  timeoutMs = defaultTimeoutMs
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'eucaim', endPoint);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  if (init.signal) {
    init.signal.addEventListener('abort', () => controller.abort());
  }
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      url,
      { ...init, signal: controller.signal },
      settings
    );
  } catch (error) {
    if (controller.signal.aborted && !init.signal?.aborted) {
      throw new EucaimError(
        0,
        'timeout',
        `The Jupyter server did not answer within ${Math.round(timeoutMs / 1000)} s (${endPoint || 'eucaim'}).`
      );
    }
    if (init.signal?.aborted) {
      throw new EucaimError(0, 'aborted', 'The call was cancelled.');
    }
    throw new EucaimError(
      0,
      'network',
      `The Jupyter server cannot be reached: ${(error as Error).message ?? error}`
    );
  } finally {
    clearTimeout(timer);
  }
  const text = await response.text();
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const kind =
      data?.error ??
      (response.status === 404 && !data ? 'missing_extension' : 'http_error');
    const message =
      data?.message ??
      `The server answered ${response.status} ${response.statusText} to ${endPoint || 'eucaim'}.`;
    throw new EucaimError(response.status, kind, message);
  }
  return data as T;
}
