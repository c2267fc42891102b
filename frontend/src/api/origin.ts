/// Where the API is. Locally the edge serves the app and the API from one
/// origin: paths stay relative. On AWS the app is on CloudFront and the API
/// on its API Gateway stage, named when the app is built (`VITE_API_URL`,
/// docs/deploy.md) and allowed by the gateway's CORS.
export const apiBase: string = ((import.meta.env.VITE_API_URL as string | undefined) ?? "").replace(/\/+$/, "");

/// `path` on the API (a path from the API itself, such as the captcha's
/// challenge URL, included); absolute URLs are kept.
export function apiUrl(path: string): string {
  return path.startsWith("/") ? apiBase + path : path;
}
