// The pages: `/` and `/f/<name>` draw a form, `/confirm` opens a double
// opt-in link (no framework: they stay small
// on a phone); `/admin` is the sales team's board, a lazy React chunk the
// form's visitors never download.

import { mountConfirmation } from "./form/confirm";
import { addStyles, mountPage } from "./form/page";

const root = document.getElementById("root");
if (window.location.pathname.startsWith("/admin")) {
  if (root !== null) {
    root.textContent = "…";
    void import("./admin/boot").then(({ boot }) => {
      boot(root);
    });
  }
} else if (window.location.pathname === "/confirm") {
  if (root !== null) {
    addStyles();
    void mountConfirmation(root);
  }
} else {
  mountPage();
}
