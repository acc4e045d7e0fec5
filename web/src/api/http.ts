// The REST client: JSON in and out, the session's CSRF token on every
// request that changes something, and server errors as codes with
// parameters (the page words them; see i18n `errors.*`).

/** A refused or failed request: the server's stable code and parameters. */
export class ApiFailure extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    public readonly params: Record<string, unknown> = {},
    message = code,
  ) {
    super(message);
  }
}

let csrfToken = "";

/** Remembers the session's CSRF token (from login or `/api/me`). */
export function setCsrfToken(token: string | undefined): void {
  if (token) csrfToken = token;
}

/** The token, for the websocket's `?csrf=` parameter. */
export function getCsrfToken(): string {
  return csrfToken;
}

/** Sends one request; resolves with the parsed body, rejects with an ApiFailure. */
export async function api<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
  const headers: Record<string, string> = { ...extraHeaders };
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  const init: RequestInit = { method, headers, credentials: "same-origin" };
  if (body instanceof Blob) init.body = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiFailure(0, "network");
  }
  const data = response.status === 204 ? {} : await response.json().catch(() => ({}));
  if (data && typeof data.csrf_token === "string") setCsrfToken(data.csrf_token);
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new ApiFailure(
      response.status,
      typeof error.code === "string" ? error.code : `http_${response.status}`,
      error.params ?? {},
      error.message,
    );
  }
  return data as T;
}
