// Third-party captchas, loaded only when configured: reCAPTCHA v3 (invisible,
// a token per submission), reCAPTCHA v2, hCaptcha and Turnstile (a widget in
// the form; its token once solved). Their origins are in the edge's CSP.

import type { CaptchaSettings } from "../api/rest";

interface Widgets {
  render(element: HTMLElement, options: Record<string, unknown>): unknown;
  execute?(siteKey: string, options: { action: string }): Promise<string>;
  ready?(callback: () => void): void;
}

const SCRIPTS: Record<string, { url: (siteKey: string) => string; global: string }> = {
  "recaptcha-v3": { url: (k) => `https://www.google.com/recaptcha/api.js?render=${encodeURIComponent(k)}`, global: "grecaptcha" },
  "recaptcha-v2": { url: () => "https://www.google.com/recaptcha/api.js?render=explicit", global: "grecaptcha" },
  hcaptcha: { url: () => "https://js.hcaptcha.com/1/api.js?render=explicit", global: "hcaptcha" },
  turnstile: { url: () => "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit", global: "turnstile" },
};

function load(url: string, global: string): Promise<Widgets> {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.async = true;
    script.onload = () => {
      const api = (window as unknown as Record<string, Widgets | undefined>)[global];
      if (api === undefined) reject(new Error(`${global} did not load`));
      else if (api.ready !== undefined) api.ready(() => { resolve(api); });
      else resolve(api);
    };
    script.onerror = () => { reject(new Error(`could not load ${url}`)); };
    document.head.appendChild(script);
  });
}

/// Loads the provider's widget into `slot`; the returned function gives
/// the token for a submission.
export async function widget(settings: CaptchaSettings, slot: HTMLElement): Promise<() => Promise<string>> {
  const script = SCRIPTS[settings.provider];
  const siteKey = settings.siteKey ?? "";
  if (script === undefined) throw new Error(`unknown captcha ${settings.provider}`);
  const api = await load(script.url(siteKey), script.global);
  if (settings.provider === "recaptcha-v3") {
    if (api.execute === undefined) throw new Error("grecaptcha.execute is missing");
    const action = settings.action ?? "submit_prospect";
    return () => api.execute?.(siteKey, { action }) ?? Promise.reject(new Error("grecaptcha.execute is missing"));
  }
  let solved: (token: string) => void = () => undefined;
  let current = new Promise<string>((resolve) => { solved = resolve; });
  api.render(slot, {
    sitekey: siteKey,
    action: settings.action,
    callback: (token: string) => { solved(token); },
    "expired-callback": () => { current = new Promise((resolve) => { solved = resolve; }); },
  });
  return () => current;
}
