// i18next with English and German; the choice is remembered in localStorage.
import i18next, { type i18n } from "i18next";
import { initReactI18next } from "react-i18next";
import de from "./de";
import en from "./en";

export const LANGUAGES = ["en", "de"] as const;
export type Language = (typeof LANGUAGES)[number];
const STORAGE_KEY = "aima.language";

export function isLanguage(value: unknown): value is Language {
  return typeof value === "string" && (LANGUAGES as readonly string[]).includes(value);
}

function initialLanguage(): Language {
  const stored = globalThis.localStorage?.getItem(STORAGE_KEY);
  if (isLanguage(stored)) return stored;
  const browser = globalThis.navigator?.language?.slice(0, 2);
  return isLanguage(browser) ? browser : "en";
}

/** A fresh, initialised i18next instance (tests make their own). */
export function createI18n(language: Language = initialLanguage()): i18n {
  const instance = i18next.createInstance();
  void instance.use(initReactI18next).init({
    resources: { en: { translation: en }, de: { translation: de } },
    lng: language,
    fallbackLng: "en",
    interpolation: { escapeValue: false }, // React escapes
    initAsync: false,
  });
  instance.on("languageChanged", (lng) => {
    globalThis.localStorage?.setItem(STORAGE_KEY, lng);
    if (globalThis.document) document.documentElement.lang = lng;
  });
  if (globalThis.document) document.documentElement.lang = instance.language;
  return instance;
}
