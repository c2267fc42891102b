// The form's texts in French and English, and the language: from the
// browser, switchable, remembered. Framework-free: the embed script uses
// it without React; `i18n.ts` adds the React hook.

const fr = {
  "app.title": "Astro Qualif",
  "lang.label": "Langue",
  "lang.switch": "English",
  "form.title": "Parlons de votre projet",
  "form.intro": "Quelques questions pour que notre équipe vous rappelle avec une réponse utile. Les champs marqués d’un * sont obligatoires.",
  "form.identity": "Vous",
  "form.project": "Votre projet",
  "field.firstName": "Prénom",
  "field.lastName": "Nom",
  "field.email": "E-mail professionnel",
  "field.phone": "Téléphone",
  "field.company": "Entreprise",
  "field.jobTitle": "Fonction",
  "field.message": "Votre besoin",
  "field.message.hint": "En quelques phrases : ce que vous cherchez à résoudre.",
  "field.budget": "Budget",
  "field.timeline": "Échéance",
  "field.consent": "J’accepte d’être recontacté(e) par l’équipe commerciale au sujet de ma demande. Mes données ne servent qu’à cela et je peux demander leur suppression à tout moment.",
  "field.website": "Ne pas remplir",
  "option.none": "— Choisir —",
  "budget.under_5k": "Moins de 5 k€",
  "budget.5k_to_20k": "5 à 20 k€",
  "budget.20k_to_50k": "20 à 50 k€",
  "budget.over_50k": "Plus de 50 k€",
  "timeline.immediate": "Dès que possible",
  "timeline.within_3_months": "Sous 3 mois",
  "timeline.within_6_months": "Sous 6 mois",
  "timeline.later": "Plus tard",
  "error.required": "Ce champ est obligatoire.",
  "error.tooLong": "{max} caractères au plus.",
  "error.control": "Caractères non autorisés.",
  "error.email": "Adresse e-mail invalide.",
  "error.phone": "Au moins 6 chiffres ; seulement chiffres, espaces et + - ( ) .",
  "error.consent": "Votre accord est nécessaire pour que nous vous recontactions.",
  "error.summary": "Le formulaire contient {count, plural, one {# erreur} other {# erreurs}}. Corrigez les champs signalés.",
  "error.network": "Connexion impossible. Vérifiez votre réseau et réessayez : votre demande ne sera pas envoyée deux fois.",
  "error.busy": "Trop de demandes. Réessayez dans {seconds} s.",
  "error.server": "Une erreur est survenue. Réessayez dans un instant.",
  "captcha.working": "Vérification anti-robot en cours…",
  "captcha.done": "Vérification anti-robot terminée.",
  "captcha.failed": "La vérification anti-robot a échoué. Réessayez.",
  "submit": "Envoyer ma demande",
  "submitting": "Envoi…",
  "success.title": "Merci, c’est reçu !",
  "success.body": "Notre équipe revient vers vous très vite à l’adresse {email}.",
  "success.again": "Envoyer une autre demande",
  "option.yes": "Oui",
  "option.no": "Non",
  "error.number": "Un nombre de {min} à {max}.",
  "error.notNumber": "Saisissez un nombre.",
  "error.choices": "{max} choix au plus.",
  "form.unavailable": "Ce formulaire n’est pas disponible pour le moment.",
  "form.questions": "Quelques questions",
  "form.previewed": "Aperçu : la réponse est valide, elle serait envoyée (rien n’est envoyé depuis l’aperçu).",
  "success.confirm": "Dernière étape : ouvrez le lien que nous venons d’envoyer à {email} pour confirmer votre adresse.",
  "confirm.title": "Confirmation de votre adresse",
  "confirm.working": "Confirmation en cours…",
  "confirm.done": "Merci, votre adresse est confirmée.",
  "confirm.already": "Votre adresse était déjà confirmée. Merci !",
  "confirm.failed": "Ce lien ne fonctionne pas : {detail}",
} as const;

export type Key = keyof typeof fr;

const en: Record<Key, string> = {
  "app.title": "Astro Qualif",
  "lang.label": "Language",
  "lang.switch": "Français",
  "form.title": "Tell us about your project",
  "form.intro": "A few questions so that our team calls you back with a useful answer. Fields marked * are required.",
  "form.identity": "You",
  "form.project": "Your project",
  "field.firstName": "First name",
  "field.lastName": "Last name",
  "field.email": "Work email",
  "field.phone": "Phone",
  "field.company": "Company",
  "field.jobTitle": "Job title",
  "field.message": "What you need",
  "field.message.hint": "In a few sentences: what you are trying to solve.",
  "field.budget": "Budget",
  "field.timeline": "Timeline",
  "field.consent": "I agree to be contacted by the sales team about my request. My data is used for that only, and I can ask for it to be deleted at any time.",
  "field.website": "Leave empty",
  "option.none": "— Choose —",
  "budget.under_5k": "Under €5k",
  "budget.5k_to_20k": "€5k to €20k",
  "budget.20k_to_50k": "€20k to €50k",
  "budget.over_50k": "Over €50k",
  "timeline.immediate": "As soon as possible",
  "timeline.within_3_months": "Within 3 months",
  "timeline.within_6_months": "Within 6 months",
  "timeline.later": "Later",
  "error.required": "This field is required.",
  "error.tooLong": "At most {max} characters.",
  "error.control": "Characters not allowed.",
  "error.email": "Not a valid email address.",
  "error.phone": "At least 6 digits; only digits, spaces and + - ( ) .",
  "error.consent": "We need your consent to contact you.",
  "error.summary": "The form has {count, plural, one {# error} other {# errors}}. Please fix the marked fields.",
  "error.network": "Could not connect. Check your network and try again: your request will not be sent twice.",
  "error.busy": "Too many requests. Try again in {seconds} s.",
  "error.server": "Something went wrong. Please try again in a moment.",
  "captcha.working": "Checking you are not a robot…",
  "captcha.done": "Robot check done.",
  "captcha.failed": "The robot check failed. Please try again.",
  "submit": "Send my request",
  "submitting": "Sending…",
  "success.title": "Thank you, we have it!",
  "success.body": "Our team will get back to you very soon at {email}.",
  "success.again": "Send another request",
  "option.yes": "Yes",
  "option.no": "No",
  "error.number": "A number from {min} to {max}.",
  "error.notNumber": "Enter a number.",
  "error.choices": "At most {max} choices.",
  "form.unavailable": "This form is not available at the moment.",
  "form.questions": "A few questions",
  "form.previewed": "Preview: the answer is valid and would be sent (nothing is sent from the preview).",
  "success.confirm": "One last step: open the link we just sent to {email} to confirm your address.",
  "confirm.title": "Confirming your address",
  "confirm.working": "Confirming…",
  "confirm.done": "Thank you, your address is confirmed.",
  "confirm.already": "Your address was confirmed already. Thank you!",
  "confirm.failed": "This link does not work: {detail}",
};

/// The version of the consent texts (`field.consent` in both languages),
/// sent with every submission and kept with the card. Change the texts, and
/// bump it and record the new texts in docs/consent.md: a test holds the
/// three together.
export const CONSENT_VERSION = "2026-11";

export type Lang = "fr" | "en";
export const dictionaries: Record<Lang, Record<Key, string>> = { fr, en };

const STORAGE_KEY = "astro.lang";

/// The remembered choice, else the browser's first French or English language, else French.
export function initialLang(stored: string | null, browser: readonly string[]): Lang {
  if (stored === "fr" || stored === "en") return stored;
  for (const tag of browser) {
    const primary = tag.toLowerCase().split("-")[0];
    if (primary === "fr" || primary === "en") return primary;
  }
  return "fr";
}

const pluralRules: Record<Lang, Intl.PluralRules> = { fr: new Intl.PluralRules("fr"), en: new Intl.PluralRules("en") };

/// Fills a template: `{name}` takes the value; `{name, plural, one {…}
/// other {…}}` takes the branch of the value's plural category in `lang`
/// (`Intl.PluralRules`: French 0 and 1 are "one", English only 1), with `#`
/// standing for the number, formatted for the language.
export function fill(lang: Lang, template: string, values: Record<string, string | number> = {}): string {
  const plural = /\{(\w+), plural,((?:\s*[\w=]+\s*\{[^{}]*\})+)\s*\}/g;
  const withPlurals = template.replace(plural, (whole, name: string, branches: string) => {
    const value = values[name];
    if (typeof value !== "number") return whole;
    const forms = new Map<string, string>();
    for (const m of branches.matchAll(/([\w=]+)\s*\{([^{}]*)\}/g)) forms.set(m[1] ?? "", m[2] ?? "");
    const form = forms.get(`=${value}`) ?? forms.get(pluralRules[lang].select(value)) ?? forms.get("other") ?? "";
    return form.replace(/#/g, value.toLocaleString(lang));
  });
  return withPlurals.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
}

/// A text with its placeholders filled (see [`fill`]).
export function format(lang: Lang, key: Key, values: Record<string, string | number> = {}): string {
  return fill(lang, dictionaries[lang][key], values);
}

let current: Lang | null = null;
/// Called when the language changes.
export const listeners = new Set<() => void>();

export function read(): Lang {
  if (current === null) {
    let stored: string | null = null;
    try {
      stored = localStorage.getItem(STORAGE_KEY);
    } catch {
      // Storage refused (private mode): the browser's language it is.
    }
    current = initialLang(stored, navigator.languages.length > 0 ? navigator.languages : [navigator.language]);
    document.documentElement.lang = current;
  }
  return current;
}

export function choose(lang: Lang): void {
  current = lang;
  document.documentElement.lang = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // Not remembered, still switched.
  }
  listeners.forEach((l) => {
    l();
  });
}
