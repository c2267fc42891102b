import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

import { CONSENT_VERSION, dictionaries, fill, format, initialLang } from "./i18n";

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

  it("follow each language's plural rules", () => {
    const text = "{count, plural, one {# prospect} other {# prospects}} in {column}";
    expect(fill("en", text, { count: 1, column: "New" })).toBe("1 prospect in New");
    expect(fill("en", text, { count: 0, column: "New" })).toBe("0 prospects in New");
    expect(fill("fr", text, { count: 0, column: "Nouveau" })).toBe("0 prospect in Nouveau");
    expect(fill("fr", text, { count: 1500, column: "x" })).toBe("1\u202f500 prospects in x");
    expect(fill("en", "{n, plural, =0 {none} one {one} other {#}}", { n: 0 })).toBe("none");
    expect(format("en", "error.summary", { count: 1 })).toBe("The form has 1 error. Please fix the marked fields.");
    expect(format("fr", "error.summary", { count: 2 })).toBe("Le formulaire contient 2 erreurs. Corrigez les champs signalés.");
  });
});

describe("the consent text", () => {
  it("is recorded in docs/consent.md under the version the form sends", () => {
    const page = readFileSync(resolve(import.meta.dirname, "../../docs/consent.md"), "utf8");
    const section = page.split(/^## /m).find((s) => s.startsWith(`${CONSENT_VERSION}\n`));
    expect(section, `docs/consent.md has no section "## ${CONSENT_VERSION}"`).toBeDefined();
    expect(section).toContain(`- **fr**: ${dictionaries.fr["field.consent"]}\n`);
    expect(section).toContain(`- **en**: ${dictionaries.en["field.consent"]}\n`);
  });
});
