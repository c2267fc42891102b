// Two routes: `/` is the public form, `/admin` the sales team's board,
// loaded lazily so that the form's visitors never download it.

import { StrictMode, Suspense, lazy } from "react";
import { createRoot } from "react-dom/client";

import { Form } from "./form/Form";
import "./styles.css";

const Admin = lazy(() => import("./admin/Admin"));

function App() {
  if (window.location.pathname.startsWith("/admin")) {
    return (
      <Suspense fallback={<p className="loading">…</p>}>
        <Admin />
      </Suspense>
    );
  }
  return <Form />;
}

const root = document.getElementById("root");
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
