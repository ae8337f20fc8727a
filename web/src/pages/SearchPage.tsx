// Search by text, by face photo and by voice clip; each tab only for roles that may use it.
import { Tabs } from "@mantine/core";
import { useTranslation } from "react-i18next";
import { useSearchParams } from "react-router";
import { type Permission, useMe } from "../api";
import { PageFrame } from "./PagePlaceholder";
import { NotAllowed } from "./admin/NotAllowed";
import { ExampleSearch } from "./search/ExampleSearch";
import { TextSearch } from "./search/TextSearch";

const TABS: { key: "text" | "face" | "voice"; permission: Permission }[] = [
  { key: "text", permission: "search:text" },
  { key: "face", permission: "search:biometric" },
  { key: "voice", permission: "search:biometric" },
];

export default function SearchPage() {
  const { t } = useTranslation();
  const { can, me } = useMe();
  const [params, setParams] = useSearchParams();
  const tabs = TABS.filter((tab) => can(tab.permission));
  const wanted = params.get("tab");
  const active = tabs.find((tab) => tab.key === wanted)?.key ?? tabs[0]?.key;
  return (
    <PageFrame title={t("pages.search.title")} intro={t("pages.search.intro")}>
      {me && !active ? <NotAllowed /> : null}
      {active ? (
        <Tabs value={active} onChange={(value) => value && setParams({ tab: value }, { replace: true })} keepMounted={false}>
          <Tabs.List>
            {tabs.map((tab) => (
              <Tabs.Tab key={tab.key} value={tab.key}>
                {t(`search.tabs.${tab.key}`)}
              </Tabs.Tab>
            ))}
          </Tabs.List>
          <Tabs.Panel value="text" pt="md">
            <TextSearch />
          </Tabs.Panel>
          <Tabs.Panel value="face" pt="md">
            <ExampleSearch kind="face" />
          </Tabs.Panel>
          <Tabs.Panel value="voice" pt="md">
            <ExampleSearch kind="voice" />
          </Tabs.Panel>
        </Tabs>
      ) : null}
    </PageFrame>
  );
}
