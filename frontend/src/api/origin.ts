/// Where the API is. Locally the edge serves the app and the API from one
/// origin: paths stay relative. On AWS the app is on CloudFront and the API
/// on its API Gateway stage, named when the app is built (`VITE_API_URL`,
/// docs/deploy.md) and allowed by the gateway's CORS.
export const apiBase: string = ((import.meta.env.VITE_API_URL as string | undefined) ?? "").replace(/\/+$/, "");

let base = apiBase;

/// The embed script, on another site's page, calls the API at the origin it
/// was loaded from (or the one its tag names): see `src/form/embed.ts`.
export function setApiBase(url: string): void {
  base = url.replace(/\/+$/, "");
}

/// `path` on the API (a path from the API itself, such as the captcha's
/// challenge URL, included); absolute URLs are kept.
export function apiUrl(path: string): string {
  return path.startsWith("/") ? base + path : path;
}
