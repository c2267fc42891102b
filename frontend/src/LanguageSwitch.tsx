import { useI18n } from "./i18n";

/// Switches between French and English; the choice is remembered.
export function LanguageSwitch() {
  const { lang, t, setLang } = useI18n();
  const other = lang === "fr" ? "en" : "fr";
  return (
    <nav className="lang" aria-label={t("lang.label")}>
      <button
        type="button"
        className="link"
        lang={other}
        onClick={() => {
          setLang(other);
        }}
      >
        {t("lang.switch")}
      </button>
    </nav>
  );
}
