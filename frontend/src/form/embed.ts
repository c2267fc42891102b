// `embed.js`: one line on any page draws a form in place,
//   <script src="https://<our origin>/embed.js" data-form="website" async></script>
// and with `data-frame`, it is the page of `/f/<name>` in another site's
// iframe: it then tells the parent page its height (so that the frame fits
// its content), takes the language from `?lang=` or the browser, and the
// UTM parameters from its own address.
// inside a shadow root (the page's CSS cannot reach it, and its CSS cannot
// reach the page), in the page's font, with colours from CSS custom
// properties set on `astro-qualif-form` (`--astro-accent`, …; see
// docs/forms.md). No cookie, no storage: the language is the tag's
// `data-lang`, else the page's, else the form's own. The UTM parameters and
// the referrer are the host page's.

import { apiBase, setApiBase } from "../api/origin";
import type { Lang } from "../texts";
import css from "./form.css?inline";
import { RESIZE_MESSAGE, attribution, mountForm } from "./render";

function language(tag: HTMLScriptElement, framed: boolean): Lang | null {
  const candidates = framed
    ? [new URLSearchParams(window.location.search).get("lang") ?? undefined, ...navigator.languages]
    : [tag.dataset.lang, document.documentElement.lang];
  for (const candidate of candidates) {
    const primary = (candidate ?? "").toLowerCase().split("-")[0];
    if (primary === "fr" || primary === "en") return primary;
  }
  return null;
}

function mount(tag: HTMLScriptElement): void {
  if (tag.dataset.astroMounted !== undefined) return;
  tag.dataset.astroMounted = "";
  setApiBase(tag.dataset.api ?? (apiBase || new URL(tag.src, window.location.href).origin));
  const name = tag.dataset.form ?? "default";
  const framed = tag.dataset.frame !== undefined;
  const lang = language(tag, framed);
  const host = document.createElement("astro-qualif-form");
  host.dataset.form = name;
  const target = tag.dataset.target === undefined ? null : document.getElementById(tag.dataset.target);
  if (target === null) tag.after(host);
  else target.append(host);
  const shadow = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = css;
  const container = document.createElement("div");
  shadow.append(style, container);
  void mountForm({
    container,
    name,
    lang,
    heading: 2,
    source: attribution(window.location.search, document.referrer),
    redirect: (url) => {
      if (!framed) window.location.assign(url);
      else window.open(url, "_top");
    },
  });
  if (framed) {
    if (lang !== null) document.documentElement.lang = lang;
    let last = 0;
    new ResizeObserver(() => {
      const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      if (height === last) return;
      last = height;
      window.parent.postMessage({ type: RESIZE_MESSAGE, form: name, height }, "*");
    }).observe(document.documentElement);
  }
}

const current = document.currentScript;
if (current instanceof HTMLScriptElement) mount(current);
// The other tags of the page (a page may hold several forms).
document.querySelectorAll<HTMLScriptElement>("script[data-form][src*='embed.js']").forEach(mount);
