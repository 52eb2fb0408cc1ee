/**
 * One S3 gateway (issue 16): only src/storage/ speaks the S3 API (`@aws-sdk/*`); backups and files reach the
 * bucket through its `ObjectStore`, so one place maps S3's errors, encryption settings and quirks. Story:
 * docs/architecture.md.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";

const ROOT = new URL("../../", import.meta.url);
const AWS_IMPORT = /(?:from|import)\s*\(?\s*["'](?:npm:)?@aws-sdk\//;

Deno.test("storage gateway: no file outside src/storage/ imports the AWS SDK", async () => {
  const offenders: string[] = [];
  for (const dir of ["src", "modules", "seeders", "scripts"]) {
    for (const p of await readdir(new URL(`${dir}/`, ROOT), { recursive: true })) {
      if (!p.endsWith(".ts")) continue;
      const path = `${dir}/${p}`;
      if (path.startsWith("src/storage/")) continue;
      if (AWS_IMPORT.test(await readFile(new URL(path, ROOT), "utf8"))) offenders.push(path);
    }
  }
  assert.deepEqual(offenders, [], "go through src/storage/object_store.ts (ObjectStore) instead");
});

Deno.test("storage gateway: the check sees static, type-only and dynamic imports", () => {
  for (
    const line of [
      `import { Upload } from "@aws-sdk/lib-storage";`,
      `import type { S3Client } from "@aws-sdk/client-s3";`,
      `const m = await import("@aws-sdk/client-s3");`,
      `export { S3Client } from 'npm:@aws-sdk/client-s3';`,
    ]
  ) assert.ok(AWS_IMPORT.test(line), line);
  assert.ok(!AWS_IMPORT.test(`// the files module used @aws-sdk/client-s3 directly once`));
});
