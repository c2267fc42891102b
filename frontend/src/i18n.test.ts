import { describe, expect, it } from "vitest";

import { dictionaries, format, initialLang } from "./i18n";

describe("French and English", () => {
  it("come from the remembered choice, else the browser, else French", () => {
    expect(initialLang("en", ["fr-FR"])).toBe("en");
    expect(initialLang(null, ["de-DE", "en-GB", "fr"])).toBe("en");
    expect(initialLang(null, ["fr-CA"])).toBe("fr");
    expect(initialLang("xx", ["de"])).toBe("fr");
  });

  it("have the same texts, each filled in", () => {
    expect(Object.keys(dictionaries.en).sort()).toEqual(Object.keys(dictionaries.fr).sort());
    expect(format("en", "error.tooLong", { max: 100 })).toBe("At most 100 characters.");
    expect(format("fr", "error.tooLong", { max: 100 })).toBe("100 caractères au plus.");
  });
});
