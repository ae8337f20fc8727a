// Fails when src/api/schema.d.ts is not what `npm run gen:api` makes from openapi.json now.
// (tests/web/test_contract.py checks the other half: openapi.json against the running app.)
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const web = fileURLToPath(new URL("..", import.meta.url));
const committed = join(web, "src/api/schema.d.ts");
const dir = mkdtempSync(join(tmpdir(), "aima-schema-"));
try {
  const fresh = join(dir, "schema.d.ts");
  const cli = join(web, "node_modules/openapi-typescript/bin/cli.js");
  execFileSync(process.execPath, [cli, join(web, "openapi.json"), "-o", fresh], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  let current = "";
  try {
    current = readFileSync(committed, "utf8");
  } catch {
    current = "";
  }
  if (current !== readFileSync(fresh, "utf8")) {
    console.error(
      "web/src/api/schema.d.ts is stale: run `bash scripts/web-api.sh` " +
        "(= scripts/openapi.py && npm --prefix web run gen:api) and commit the result",
    );
    process.exit(1);
  }
  console.log("schema.d.ts matches openapi.json");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
