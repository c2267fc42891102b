// `/confirm#<token>`: the page of a double opt-in email's link. The token
// stays in the fragment (never sent to a server in a URL, never in a log)
// and leaves the address bar once read.

import { confirmEmail } from "../api/rest";
import { format, read } from "../texts";

export async function mountConfirmation(root: HTMLElement): Promise<void> {
  const lang = read();
  const token = window.location.hash.slice(1);
  window.history.replaceState(null, "", window.location.pathname);
  const main = document.createElement("main");
  main.className = "page";
  const card = document.createElement("section");
  card.className = "card aq";
  card.lang = lang;
  const title = document.createElement("h1");
  title.textContent = format(lang, "confirm.title");
  const status = document.createElement("p");
  status.setAttribute("role", "status");
  status.textContent = format(lang, "confirm.working");
  card.append(title, status);
  main.append(card);
  root.replaceChildren(main);
  let text: string;
  try {
    const outcome = await confirmEmail(token);
    text =
      outcome.kind === "refused"
        ? format(lang, "confirm.failed", { detail: outcome.detail })
        : format(lang, outcome.now ? "confirm.done" : "confirm.already");
  } catch {
    text = format(lang, "error.network");
  }
  status.textContent = text;
}
