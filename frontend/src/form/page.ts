// Our own pages of a form: `/` (the form named `default`) and `/f/<name>`
// (any form, made to sit in another site's iframe: it tells its parent its
// height, so that the frame fits its content).

import { choose, read } from "../texts";
import css from "./form.css?inline";
import { attribution, mountForm } from "./render";

/// The message an iframe page posts to its parent when its height changes;
/// the snippet of the builder listens for it.
export const RESIZE_MESSAGE = "astro-qualif:height";

/// The form a path names: `/` is `default`, `/f/<name>` is `<name>`.
export function formName(path: string): string {
  const match = /^\/f\/([^/]+)\/?$/.exec(path);
  return match?.[1] === undefined ? "default" : decodeURIComponent(match[1]);
}

/// The form's styles, on one of our own pages.
export function addStyles(): void {
  const style = document.createElement("style");
  style.textContent = css;
  document.head.append(style);
}

export function mountPage(): void {
  const root = document.getElementById("root");
  if (root === null) return;
  addStyles();
  const framed = window.parent !== window;
  const name = formName(window.location.pathname);
  const main = document.createElement("main");
  main.className = framed ? "page framed" : "page";
  root.replaceChildren(main);
  void mountForm({
    container: main,
    name,
    lang: read(),
    onLanguage: choose,
    heading: 1,
    source: attribution(window.location.search, document.referrer),
    redirect: (url) => {
      try {
        (window.top ?? window).location.assign(url);
      } catch {
        window.location.assign(url);
      }
    },
  });
  if (framed) {
    let last = 0;
    new ResizeObserver(() => {
      const height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      if (height === last) return;
      last = height;
      window.parent.postMessage({ type: RESIZE_MESSAGE, form: name, height }, "*");
    }).observe(document.documentElement);
  }
}
