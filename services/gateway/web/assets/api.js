// The public REST API, as the browser calls it: the token from the session, errors as ApiError.
import { session } from "./session.js";

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(typeof body?.detail === "string" ? body.detail : `the shop answered ${status}`);
    this.status = status;
    this.code = body?.code || (status === 0 ? "network_error" : "error");
    this.body = body || {};
    this.retryAfter = retryAfter;
  }
}

/** Calls /api{path}; resolves to the parsed JSON (null for 204), rejects with ApiError. */
export async function api(method, path, { json, headers = {}, auth = true } = {}) {
  const sent = { ...headers };
  const token = auth ? session.token : null;
  if (token) sent.authorization = `Bearer ${token}`;
  if (json !== undefined) sent["content-type"] = "application/json";
  let response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers: sent,
      body: json === undefined ? undefined : JSON.stringify(json),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { detail: "The shop cannot be reached: check your connection and try again." });
  }
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.ok) return body;
  if (response.status === 401 && token) session.expired();
  throw new ApiError(response.status, body, Number(response.headers.get("retry-after")) || null);
}

/** What to tell a person about a failed call. */
export function explain(error) {
  if (!(error instanceof ApiError)) return "Something went wrong in this page; reload it and try again.";
  if (error.status === 503) {
    const wait = error.retryAfter ? ` in ${error.retryAfter} second${error.retryAfter === 1 ? "" : "s"}` : " shortly";
    return `The shop is busy right now: please try again${wait}.`;
  }
  if (error.status === 0) return error.message;
  if (error.code === "validation_error") return `Please check the form: ${error.message}.`;
  return error.message.charAt(0).toUpperCase() + error.message.slice(1) + ".";
}
