import { createTheme, Loader } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "indigo",
  // shade 8 (light) keeps white button text above WCAG AA contrast (4.5:1)
  primaryShade: { light: 8, dark: 7 },
  // a visible focus ring on every focusable Mantine element when navigating by keyboard
  focusRing: "auto",
  defaultRadius: "sm",
  components: {
    // A loader is a status message: screen readers announce its label ("Loading persons…").
    // Without a role, the label sits on a plain <span>, where ARIA forbids it.
    Loader: Loader.extend({ defaultProps: { role: "status" } }),
  },
});
