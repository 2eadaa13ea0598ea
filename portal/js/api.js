// The platform's REST API, with the operator's token when one is signed in.

const tokenKey = "cmc.token";

export const session = {
  get token() { return sessionStorage.getItem(tokenKey); },
  set token(value) { value ? sessionStorage.setItem(tokenKey, value) : sessionStorage.removeItem(tokenKey); },
};

export class APIError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new APIError(response.status, json);
  return json;
}

/// Every page of a device list, handed to `onPage` as it arrives.
export async function allDevices(query, onPage) {
  let cursor = null;
  do {
    const page = await api(`/devices?${query}&limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    onPage(page.devices, page.latest ?? {});
    cursor = page.nextCursor;
  } while (cursor);
}

// Device ids are letters, digits and ":._-": safe in a path as they are.
/// The latest reading of a device, or null when it has none (or may not be read).
export async function latestReading(id) {
  try {
    return await api(`/history/${id}/latest`);
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}
