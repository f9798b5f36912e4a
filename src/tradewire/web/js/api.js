// The session: the access token lives in this module's memory only; the refresh token is an HttpOnly
// cookie the server sets for POST /api/v1/auth/refresh (scripts never see it). Every request that sets
// or spends that cookie carries X-Tradewire-Session, which another site cannot send (CSRF).

const SESSION = { "X-Tradewire-Session": "cookie" };
// Whether this browser holds a session cookie (not the token: a flag, so a first visit does not ask
// the server for a session it cannot have).
const HINT = "tradewire-session";
const hint = {
  get: () => { try { return localStorage.getItem(HINT) === "1"; } catch { return true; } },
  set: (on) => { try { on ? localStorage.setItem(HINT, "1") : localStorage.removeItem(HINT); } catch { /* blocked */ } },
};
let access = null;
let timer = null;
let refreshing = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, detail, response) {
    super(Array.isArray(detail) ? detail.map((e) => e.msg).join("; ") : detail);
    this.status = status;
    this.errors = Array.isArray(detail) ? detail : null; // a 422's items: {loc, msg, type}
    this.needsCode = response?.headers.get("X-Tradewire-OTP") === "required";
  }
}

async function failure(response) {
  let detail = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") detail = body.detail;
    else if (Array.isArray(body.detail)) detail = body.detail;
  } catch { /* not JSON */ }
  return new ApiError(response.status, detail, response);
}

function adopt(pair) {
  access = pair.access_token;
  clearTimeout(timer);
  // Renew at 80 % of the token's life, so requests never meet an expired one.
  const seconds = Math.max(5, Math.floor((pair.expires_in || 60) * 0.8));
  timer = setTimeout(() => renew().catch(() => expire()), seconds * 1000);
}

function expire() {
  access = null;
  clearTimeout(timer);
  onSignedOut();
}

export function whenSignedOut(listener) { onSignedOut = listener; }
/** The server ended the session (signed out elsewhere, password changed): back to the sign-in page. */
export function sessionEnded() { if (access !== null) expire(); }
export const accessToken = () => access;
export const signedIn = () => access !== null;

export async function signIn(username, password, otp) {
  const form = new URLSearchParams({ username, password });
  if (otp) form.set("otp", otp);
  const response = await fetch("/api/v1/auth/token", { method: "POST", headers: SESSION, body: form });
  if (!response.ok) throw await failure(response);
  adopt(await response.json());
  hint.set(true);
}

async function refreshOnce() {
  const response = await fetch("/api/v1/auth/refresh", { method: "POST", headers: SESSION });
  if (!response.ok) {
    if (response.status === 401) hint.set(false);
    throw await failure(response);
  }
  adopt(await response.json());
}

/** A new access token from the session cookie. One refresh at a time, across tabs too (Web Locks):
 * a refresh token used twice signs its session out. */
export function renew() {
  if (!refreshing) {
    const run = navigator.locks ? navigator.locks.request("tradewire-refresh", refreshOnce) : refreshOnce();
    refreshing = Promise.resolve(run).finally(() => { refreshing = null; });
  }
  return refreshing;
}

/** Whether the session cookie still opens a session (a reload stays signed in). */
export async function restore() {
  if (!hint.get()) return false;
  try {
    await renew();
    return true;
  } catch {
    return false;
  }
}

export async function signOut() {
  try {
    if (access) await fetch("/api/v1/auth/logout", { method: "POST", headers: { ...SESSION, Authorization: `Bearer ${access}` } });
  } finally {
    access = null;
    clearTimeout(timer);
    hint.set(false);
  }
}

/** A JSON request with the access token; a 401 renews the token once and tries again. */
export async function api(method, path, body) {
  for (let attempt = 0; ; attempt++) {
    const headers = { Authorization: `Bearer ${access}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (response.status === 401 && attempt === 0) {
      try { await renew(); continue; } catch { expire(); }
    }
    if (!response.ok) throw await failure(response);
    return response.status === 204 ? null : response.json();
  }
}
