// One person: name (rename), crops, dossier with citations, observations (split / not this
// person), face-voice links, "seen before", who they appear with, and the corrections to undo.
// Admins also export everything held on the person and erase them (then the receipt shows).
import { Alert, Anchor, Avatar, Group, Loader, SimpleGrid, Stack, Text } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { Link, useParams } from "react-router";
import { useApi, useMe } from "../api";
import { PageFrame } from "./PagePlaceholder";
import { CoAppearanceGraph } from "./people/CoAppearanceGraph";
import { CorrectionsList } from "./people/CorrectionsList";
import { CorrectionsProvider } from "./people/corrections";
import { DossierView } from "./people/DossierView";
import type { Receipt } from "./people/erasure";
import { LinksPanel } from "./people/LinksPanel";
import { ObservationList } from "./people/ObservationList";
import { ReceiptView } from "./people/ReceiptView";
import { RenameInline } from "./people/RenameInline";
import { SeenBefore } from "./people/SeenBefore";
import { SubjectActions } from "./people/SubjectActions";
import { SummaryPanel } from "./summary/SummaryPanel";
import { artifactUrl, type Person, personLabel, seconds } from "./people/types";

function Header({ person, canManage }: { person: Person; canManage: boolean }) {
  const { t } = useTranslation();
  const label = personLabel(t, person.id, person.name);
  const crops = person.observations.filter((o) => o.crop).slice(0, 6);
  return (
    <Stack gap="xs">
      <RenameInline personId={person.id} name={person.name} canEdit={canManage} label={<Text fw={600}>{label}</Text>} />
      <Group gap="xs">
        {crops.map((o) => (
          <Avatar
            key={o.id}
            src={artifactUrl(o.media_id, o.crop ?? "")}
            alt={t("people.cropOf", { name: label })}
            size={80}
            radius="sm"
          />
        ))}
      </Group>
      <Text size="sm" c="dimmed">
        {t("people.inMedia", { count: person.media })} · {t("people.faces", { count: person.faces })} ·{" "}
        {t("people.voices", { count: person.voices })} · {t("people.onScreen", { time: seconds(person.on_screen_s) })}
      </Text>
      {person.requested_id !== person.id ? (
        <Alert color="blue">{t("people.redirected", { id: person.requested_id })}</Alert>
      ) : null}
    </Stack>
  );
}

function PersonDetail({ id }: { id: string }) {
  const { t } = useTranslation();
  const { $api } = useApi();
  const { can } = useMe();
  const queryClient = useQueryClient();
  const canManage = can("persons:manage");
  const [receipt, setReceipt] = useState<Receipt | null>(null);
  const query = $api.useQuery(
    "get",
    "/api/v1/persons/{person_id}",
    { params: { path: { person_id: id } } },
    { enabled: receipt === null },
  );
  const person = receipt ? undefined : query.data;
  const title = receipt ? t("erase.erasedTitle") : person ? personLabel(t, person.id, person.name) : t("people.person");

  function erased(done: Receipt) {
    const gone = [id, query.data?.id ?? id];
    setReceipt(done);
    // the person (and, with their media, the library) is gone: nothing may show them from cache
    queryClient.removeQueries({ predicate: (q) => gone.some((p) => JSON.stringify(q.queryKey).includes(p)) });
    void queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/persons"] });
    if (done.with_media) void queryClient.invalidateQueries({ queryKey: ["get", "/api/v1/media"] });
  }

  return (
    <PageFrame title={title}>
      <Anchor component={Link} to="/people" size="sm">
        ← {t("people.back")}
      </Anchor>
      {receipt ? (
        <>
          <Alert color="green" role="status" title={t("erase.done")} styles={{ title: { color: "var(--mantine-color-text)" } }}>
            {t("erase.doneBody")}
          </Alert>
          <ReceiptView receipt={receipt} />
        </>
      ) : null}
      {!receipt && query.isPending ? <Loader size="sm" aria-label={t("people.loading")} /> : null}
      {!receipt && query.isError ? <Alert color="red">{t("people.notFound")}</Alert> : null}
      {person ? (
        <>
          <Header person={person} canManage={canManage} />
          <SummaryPanel subject={{ kind: "person", id: person.id }} linkFacts />
          <SimpleGrid cols={{ base: 1, md: 2 }} spacing="lg">
            <DossierView personId={person.id} />
            <Stack gap="lg">
              <CoAppearanceGraph personId={person.id} name={person.name ?? null} />
              <SeenBefore personId={person.id} />
            </Stack>
          </SimpleGrid>
          <ObservationList personId={person.id} observations={person.observations} canManage={canManage} />
          <LinksPanel canManage={canManage} links={person.links} names={{ [person.id]: person.name ?? null }} />
          <CorrectionsList personId={person.id} canManage={canManage} />
          {can("persons:erase") ? (
            <SubjectActions person={person} label={personLabel(t, person.id, person.name)} onErased={erased} />
          ) : null}
        </>
      ) : null}
    </PageFrame>
  );
}

export default function PersonPage() {
  const { id = "" } = useParams();
  return (
    <CorrectionsProvider>
      <PersonDetail key={id} id={id} />
    </CorrectionsProvider>
  );
}
