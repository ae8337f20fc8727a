import "@mantine/core/styles.css";
import "./styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createApi, createQueryClient } from "./api";
import { App } from "./App";
import { createI18n } from "./i18n";

const root = document.getElementById("root");
if (!root) throw new Error("index.html lacks <div id=root>");
createRoot(root).render(
  <StrictMode>
    <App api={createApi()} queryClient={createQueryClient()} i18n={createI18n()} />
  </StrictMode>,
);
