// The proof of work's search, off the main thread.
import type { Challenge } from "../api/rest";
import { findNumber } from "./pow";

self.onmessage = (event: MessageEvent<Challenge>) => {
  void findNumber(event.data).then((n) => {
    self.postMessage(n);
  });
};
