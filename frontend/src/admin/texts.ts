// The board's texts, French and English: loaded with the admin chunk only.

import { type Lang, useI18n } from "../i18n";

const fr = {
  "title": "Tableau des prospects",
  "signIn.title": "Connexion",
  "signIn.email": "E-mail",
  "signIn.password": "Mot de passe",
  "signIn.submit": "Se connecter",
  "signIn.working": "Connexion…",
  "signIn.wrong": "E-mail ou mot de passe incorrect.",
  "signIn.captcha": "Trop d’échecs : une vérification anti-robot accompagne la connexion.",
  "signIn.captchaWorking": "Vérification anti-robot en cours…",
  "signIn.expired": "Votre session a expiré : reconnectez-vous pour continuer là où vous en étiez.",
  "signIn.busy": "Trop de tentatives. Réessayez dans {seconds} s.",
  "signIn.failed": "Connexion impossible pour le moment.",
  "signOut": "Se déconnecter",
  "status.NEW": "Nouveau",
  "status.CONTACTED": "Contacté",
  "status.QUALIFIED": "Qualifié",
  "status.WON": "Gagné",
  "status.LOST": "Perdu",
  "column.count": "{count} prospect(s)",
  "column.more": "Voir plus",
  "column.empty": "Aucun prospect",
  "card.moveHint": "Espace pour saisir, flèches gauche et droite pour changer de colonne, Espace pour déposer, Échap pour annuler.",
  "dnd.picked": "Fiche {name} saisie, dans la colonne {column}.",
  "dnd.over": "Fiche {name} au-dessus de la colonne {column}.",
  "dnd.moved": "Fiche {name} déplacée vers {column}.",
  "dnd.cancelled": "Déplacement de {name} annulé.",
  "move.conflict": "{name} a été modifié entre-temps par quelqu’un d’autre : la fiche est affichée telle qu’elle est maintenant.",
  "move.failed": "Le déplacement de {name} a échoué : il est revenu à sa place.",
  "drawer.close": "Fermer",
  "drawer.save": "Enregistrer",
  "drawer.saving": "Enregistrement…",
  "drawer.saved": "Enregistré.",
  "drawer.conflict": "Quelqu’un a modifié cette fiche entre-temps : rechargée, vos changements ne sont pas enregistrés.",
  "drawer.failed": "Enregistrement impossible : {detail}",
  "drawer.history": "Historique",
  "drawer.delete": "Supprimer",
  "drawer.confirmDelete": "Supprimer définitivement {name} et son historique ?",
  "drawer.confirmYes": "Oui, supprimer",
  "drawer.confirmNo": "Annuler",
  "drawer.source": "Provenance",
  "drawer.consent": "Consentement donné le {date}",
  "drawer.duplicate": "Même e-mail qu’une fiche plus ancienne",
  "event.CREATED": "Créé par {actor}",
  "event.STATUS_CHANGED": "{from} → {to}, par {actor}",
  "event.EDITED": "Modifié ({fields}) par {actor}",
  "field.status": "Colonne",
  "search.label": "Rechercher par nom, entreprise ou e-mail",
  "search.submit": "Rechercher",
  "search.clear": "Revenir au tableau",
  "search.results": "{count} résultat(s) pour « {query} »",
} as const;

type AdminKey = keyof typeof fr;

const en: Record<AdminKey, string> = {
  "title": "Prospect board",
  "signIn.title": "Sign in",
  "signIn.email": "Email",
  "signIn.password": "Password",
  "signIn.submit": "Sign in",
  "signIn.working": "Signing in…",
  "signIn.wrong": "Wrong email or password.",
  "signIn.captcha": "Too many failures: a robot check goes with the sign-in.",
  "signIn.captchaWorking": "Checking you are not a robot…",
  "signIn.expired": "Your session has expired: sign in again to carry on where you were.",
  "signIn.busy": "Too many attempts. Try again in {seconds} s.",
  "signIn.failed": "Could not sign in right now.",
  "signOut": "Sign out",
  "status.NEW": "New",
  "status.CONTACTED": "Contacted",
  "status.QUALIFIED": "Qualified",
  "status.WON": "Won",
  "status.LOST": "Lost",
  "column.count": "{count} prospect(s)",
  "column.more": "Show more",
  "column.empty": "No prospects",
  "card.moveHint": "Space to pick up, left and right arrows to change column, Space to drop, Escape to cancel.",
  "dnd.picked": "Picked up card {name}, in column {column}.",
  "dnd.over": "Card {name} is over column {column}.",
  "dnd.moved": "Card {name} moved to {column}.",
  "dnd.cancelled": "Moving {name} was cancelled.",
  "move.conflict": "Someone else changed {name} meanwhile: the card is shown as it is now.",
  "move.failed": "Moving {name} failed: it is back in its place.",
  "drawer.close": "Close",
  "drawer.save": "Save",
  "drawer.saving": "Saving…",
  "drawer.saved": "Saved.",
  "drawer.conflict": "Someone changed this card meanwhile: it was reloaded and your changes were not saved.",
  "drawer.failed": "Could not save: {detail}",
  "drawer.history": "History",
  "drawer.delete": "Delete",
  "drawer.confirmDelete": "Delete {name} and their history for good?",
  "drawer.confirmYes": "Yes, delete",
  "drawer.confirmNo": "Cancel",
  "drawer.source": "Source",
  "drawer.consent": "Consent given on {date}",
  "drawer.duplicate": "Same email as an older card",
  "event.CREATED": "Created by {actor}",
  "event.STATUS_CHANGED": "{from} → {to}, by {actor}",
  "event.EDITED": "Edited ({fields}) by {actor}",
  "field.status": "Column",
  "search.label": "Search by name, company or email",
  "search.submit": "Search",
  "search.clear": "Back to the board",
  "search.results": "{count} result(s) for “{query}”",
};

const texts: Record<Lang, Record<AdminKey, string>> = { fr, en };

export type AdminText = (key: AdminKey, values?: Record<string, string | number>) => string;

export function useAdminText(): { a: AdminText; lang: Lang } {
  const { lang } = useI18n();
  const a: AdminText = (key, values = {}) =>
    texts[lang][key].replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`));
  return { a, lang };
}

export { texts as adminTexts };
