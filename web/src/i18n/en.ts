// English strings: the source of truth for keys. Every visible string goes through t().
const en = {
  app: { name: "AIMA", tagline: "AI media analysis" },
  nav: {
    label: "Main navigation",
    dashboard: "Dashboard",
    upload: "Upload",
    library: "Library",
    people: "People",
    search: "Search",
    admin: "Admin",
    openMenu: "Open navigation",
    closeMenu: "Close navigation",
  },
  login: {
    title: "Sign in to AIMA",
    username: "Username",
    password: "Password",
    submit: "Sign in",
    usernameRequired: "Enter your username",
    passwordRequired: "Enter your password",
    invalid: "Wrong username or password",
    locked: "Too many attempts; try again later",
    failed: "Sign-in failed: {{reason}}",
  },
  user: {
    signedInAs: "Signed in as {{username}}",
    role: "Role: {{role}}",
    logout: "Sign out",
    loading: "Loading your account…",
  },
  roles: {
    admin: "Administrator",
    analyst: "Analyst",
    uploader: "Uploader",
    viewer: "Viewer",
    auditor: "Auditor",
  },
  language: { label: "Language", en: "English", de: "Deutsch" },
  skipToContent: "Skip to content",
  pages: {
    dashboard: { title: "Dashboard", intro: "Jobs, recent media and the state of the system." },
    upload: { title: "Upload", intro: "Add images, videos and audio to the library." },
    library: { title: "Library", intro: "Every media file you may see, with its analysis." },
    people: { title: "People", intro: "Persons recognised across the library." },
    search: { title: "Search", intro: "Find words, faces and voices." },
    admin: { title: "Administration", intro: "Users, audit trail and workers." },
    notFound: { title: "Page not found", back: "Back to the dashboard" },
    comingSoon: "This page is being built.",
  },
  errors: { generic: "Something went wrong: {{message}}" },
};

export default en;

type Strings<T> = { [K in keyof T]: T[K] extends string ? string : Strings<T[K]> };
/** The shape every other language must fill completely (checked by tsc). */
export type Resources = Strings<typeof en>;
