// Our own page of a form: `/`, the form named `default`, with a language
// switch. (`/f/<name>`, for other sites' iframes, is the embed script on a
// page of the edge's: see `embed.ts`.)

import { choose, read } from "../texts";
import css from "./form.css?inline";
import { attribution, mountForm } from "./render";

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
  const main = document.createElement("main");
  main.className = "page";
  root.replaceChildren(main);
  void mountForm({
    container: main,
    name: "default",
    lang: read(),
    onLanguage: choose,
    heading: 1,
    source: attribution(window.location.search, document.referrer),
    redirect: (url) => {
      window.location.assign(url);
    },
  });
}
