// After `vite build`: a gzip copy next to every text asset; `aima serve` sends it to browsers
// that accept gzip (the API process has no compression of its own for static files).
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { constants, gzipSync } from "node:zlib";

const assets = fileURLToPath(new URL("../../src/aima/web/static/assets", import.meta.url));
let before = 0;
let after = 0;
for (const name of readdirSync(assets)) {
  if (!/\.(js|css|svg|json)$/.test(name)) continue;
  const path = join(assets, name);
  const data = readFileSync(path);
  const gz = gzipSync(data, { level: constants.Z_BEST_COMPRESSION });
  writeFileSync(`${path}.gz`, gz);
  before += statSync(path).size;
  after += gz.length;
}
console.log(`compressed assets: ${(before / 1024).toFixed(1)} KiB -> ${(after / 1024).toFixed(1)} KiB gzip`);
