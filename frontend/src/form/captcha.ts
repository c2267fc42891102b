// The captcha `GET /captcha` names: the self-hosted proof of work by
// default (solved in a worker as soon as the visitor starts typing), a
// third-party widget only when one is configured (its script loaded then,
// never before).

import { type CaptchaSettings, challenge } from "../api/rest";
import { solveInWorker } from "./pow";

export interface Captcha {
  /// The token for the submission (waits for the work to finish).
  token(): Promise<string>;
}

type State = "idle" | "working" | "done" | "failed";

export function startCaptcha(
  settings: Promise<CaptchaSettings>,
  slot: HTMLElement,
  onState: (state: State) => void,
): Captcha {
  const token = settings.then(async (s): Promise<() => Promise<string>> => {
    switch (s.provider) {
      case "off":
        return () => Promise.resolve("");
      case "pow": {
        onState("working");
        const solved = challenge(s.challengeUrl ?? "/captcha/challenge").then(solveInWorker);
        solved.then(
          () => {
            onState("done");
          },
          () => {
            onState("failed");
          },
        );
        return () => solved;
      }
      default: {
        const { widget } = await import("./providers");
        return widget(s, slot);
      }
    }
  });
  return { token: () => token.then((get) => get()) };
}
