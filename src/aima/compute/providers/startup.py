"""The first-boot script that turns a bare cloud VM into an AIMA worker.

Container-native providers (RunPod, Vast.ai) start AIMA's image directly; the
VM clouds (Lambda, Paperspace, Genesis Cloud, EC2, Compute Engine, Azure) boot
a VM image instead, so the worker is started by a shell script the provider
runs once at first boot (Lambda ``user_data``, Paperspace ``script``, Genesis
``startup_script``, EC2 ``UserData``, GCE metadata ``startup-script``, Azure
``customData``). The VM image must already have a
GPU driver, Docker and the NVIDIA container toolkit (each provider sells such
images); the script only pulls and runs the worker container.

``Bootstrap.env`` carries secrets (database URL, blob keys). Every provider lets
the account owner read the boot script back, so these secrets are exactly as
safe as the cloud account; they are never logged here.
"""

from __future__ import annotations

import re
import shlex

from aima.compute.providers.base import Bootstrap
from aima.core.errors import InvalidInput

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def startup_script(boot: Bootstrap, *, name: str) -> str:
    """A POSIX shell script that runs ``boot.image`` with ``boot.env`` and restarts it on failure."""
    for key, value in boot.env.items():
        if not _ENV_NAME.match(key):
            raise InvalidInput(
                f"bootstrap environment variable {key!r} is not a valid name; "
                "use letters, digits and underscores"
            )
        if "\n" in value or "\r" in value:
            raise InvalidInput(
                f"bootstrap environment variable {key} holds a line break; docker env files "
                "take one variable per line, so pass the value without line breaks"
            )
    # docker --env-file takes each line verbatim (no quoting), behind a quoted here-document
    env_lines = "".join(f"{key}={value}\n" for key, value in sorted(boot.env.items()))
    command = " ".join(shlex.quote(part) for part in boot.command)
    image = shlex.quote(boot.image)
    worker = shlex.quote(name)
    return (
        "#!/bin/sh\n"
        "# AIMA worker bootstrap (generated; contains secrets, do not share)\n"
        "set -eu\n"
        "umask 077\n"
        "mkdir -p /etc/aima\n"
        "cat > /etc/aima/worker.env <<'AIMA_ENV_EOF'\n"
        f"{env_lines}"
        "AIMA_ENV_EOF\n"
        f"docker pull {image}\n"
        f"docker rm -f {worker} >/dev/null 2>&1 || true\n"
        f"docker run -d --name {worker} --restart unless-stopped --gpus all "
        f"--env-file /etc/aima/worker.env {image} {command}\n"
    )
