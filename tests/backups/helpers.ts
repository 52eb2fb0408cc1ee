/** Reading and planting backup objects in tests, with nothing but the plain AWS SDK and node:zlib. */
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { gunzipSync, gzipSync } from "node:zlib";
import { createHash } from "node:crypto";
import type { TestS3 } from "../helpers/s3.ts";

/** Downloads `key` with a plain S3 client: the raw bytes and the object metadata. */
export async function download(
  s3: TestS3,
  key: string,
): Promise<{ bytes: Uint8Array; metadata: Record<string, string> }> {
  const r = await s3.client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return { bytes: await r.Body!.transformToByteArray(), metadata: r.Metadata ?? {} };
}

/** Downloads and gunzips `key` into text. */
export async function downloadText(s3: TestS3, key: string): Promise<string> {
  return new TextDecoder().decode(gunzipSync((await download(s3, key)).bytes));
}

export const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
export const gzip = (text: string) => new Uint8Array(gzipSync(new TextEncoder().encode(text)));

/**
 * Uploads `bytes` under `key` (not catalogued) with a sha256 metadata entry
 * matching them, so only the content checks can refuse it.
 */
export async function plant(s3: TestS3, key: string, bytes: Uint8Array): Promise<void> {
  await s3.store.upload(key, new Blob([bytes as BlobPart]).stream(), {
    contentType: "application/gzip",
    metadata: { sha256: sha256(bytes), "seedbed-size": String(bytes.length) },
  });
}
