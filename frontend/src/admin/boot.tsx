// The sales team's app under `/admin`: React, loaded only there.

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import "../styles.css";
import Admin from "./Admin";

export function boot(root: HTMLElement): void {
  createRoot(root).render(
    <StrictMode>
      <Admin />
    </StrictMode>,
  );
}
