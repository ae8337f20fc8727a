import type { Resources } from "./en";

const de: Resources = {
  app: { name: "AIMA", tagline: "KI-Medienanalyse" },
  nav: {
    label: "Hauptnavigation",
    dashboard: "Übersicht",
    upload: "Hochladen",
    library: "Bibliothek",
    people: "Personen",
    search: "Suche",
    admin: "Verwaltung",
    openMenu: "Navigation öffnen",
    closeMenu: "Navigation schließen",
  },
  login: {
    title: "Bei AIMA anmelden",
    username: "Benutzername",
    password: "Passwort",
    submit: "Anmelden",
    usernameRequired: "Benutzernamen eingeben",
    passwordRequired: "Passwort eingeben",
    invalid: "Benutzername oder Passwort falsch",
    locked: "Zu viele Versuche; bitte später erneut versuchen",
    failed: "Anmeldung fehlgeschlagen: {{reason}}",
  },
  user: {
    signedInAs: "Angemeldet als {{username}}",
    role: "Rolle: {{role}}",
    logout: "Abmelden",
    loading: "Konto wird geladen …",
  },
  roles: {
    admin: "Administrator",
    analyst: "Analyst",
    uploader: "Uploader",
    viewer: "Betrachter",
    auditor: "Prüfer",
  },
  language: { label: "Sprache", en: "English", de: "Deutsch" },
  skipToContent: "Zum Inhalt springen",
  pages: {
    dashboard: { title: "Übersicht", intro: "Aufträge, neue Medien und der Zustand des Systems." },
    upload: { title: "Hochladen", intro: "Bilder, Videos und Audio zur Bibliothek hinzufügen." },
    library: { title: "Bibliothek", intro: "Alle Mediendateien, die Sie sehen dürfen, mit ihrer Analyse." },
    people: { title: "Personen", intro: "In der Bibliothek erkannte Personen." },
    search: { title: "Suche", intro: "Wörter, Gesichter und Stimmen finden." },
    admin: { title: "Verwaltung", intro: "Benutzer, Prüfprotokoll und Worker." },
    notFound: { title: "Seite nicht gefunden", back: "Zurück zur Übersicht" },
    comingSoon: "Diese Seite entsteht gerade.",
  },
  errors: { generic: "Etwas ist schiefgegangen: {{message}}" },
};

export default de;
