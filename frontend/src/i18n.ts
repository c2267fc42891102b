// French and English: the language comes from the browser, can be switched,
// and is remembered. Every text of the interface is a key of `fr`; `en`
// must have the same keys (the type says so).

import { useCallback, useSyncExternalStore } from "react";

import { type Key, type Lang, choose, format, listeners, read } from "./texts";

export * from "./texts";

/// The language, a translator, and a way to switch.
export function useI18n(): { lang: Lang; t: (key: Key, values?: Record<string, string | number>) => string; setLang: (l: Lang) => void } {
  const lang = useSyncExternalStore(
    (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    read,
    (): Lang => "fr",
  );
  const t = useCallback((key: Key, values?: Record<string, string | number>) => format(lang, key, values), [lang]);
  return { lang, t, setLang: choose };
}
