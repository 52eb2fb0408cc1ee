/**
 * A bucket, as the backups and files modules use it (the only place that speaks the S3 API): streamed
 * multipart uploads (`@aws-sdk/lib-storage` — the object is never held whole in memory), streamed and
 * ranged downloads, presigned GETs, copies, metadata, listing and deletion. Every failure is an AppError
 * from `storageError` (bucket and endpoint named, no credentials). Story: docs/architecture.md.
 */
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { AppError } from "../errors.ts";
import { type S3Config, sseParams, storageError } from "./s3_client.ts";

export interface UploadOptions {
  contentType?: string;
  /** User metadata (`x-amz-meta-*`); keys lowercase, values ASCII. */
  metadata?: Record<string, string>;
  /** Multipart part size in bytes (default 8 MiB; S3's minimum is 5 MiB). */
  partSize?: number;
}

export interface ObjectInfo {
  key: string;
  size: number;
  metadata: Record<string, string>;
  contentType?: string;
  lastModified?: Date;
}

/** A multipart upload that was started and neither completed nor aborted. */
export interface IncompleteUpload {
  key: string;
  uploadId: string;
  initiated?: Date;
}

export interface ObjectDownload extends ObjectInfo {
  body: ReadableStream<Uint8Array>;
  /** With a range: S3's `Content-Range` (`bytes <first>-<last>/<size>`). */
  contentRange?: string;
}

/** One bucket of the shared S3 client. */
export class ObjectStore {
  constructor(
    readonly client: S3Client,
    readonly s3: S3Config,
    /** Signs presigned URLs: the client for the endpoint clients reach (`createPresignClient`). */
    private readonly presigner: S3Client = client,
  ) {}

  get bucket(): string {
    return this.s3.bucket;
  }

  /** Checks that the bucket exists and the credentials are accepted. */
  async checkBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      // HeadBucket has no body, so a missing bucket arrives as a bare 404.
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      throw storageError(
        status === 404 ? Object.assign(err as object, { name: "NoSuchBucket" }) : err,
        this.s3,
      );
    }
  }

  /** Creates the bucket when it does not exist; returns true when it created it. */
  async ensureBucket(): Promise<boolean> {
    try {
      await this.checkBucket();
      return false;
    } catch (err) {
      if (!/does not exist/.test((err as Error).message)) throw err;
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      return true;
    } catch (err) {
      throw storageError(err, this.s3);
    }
  }

  /** Streams `body` to `key` as a multipart upload; aborts (leaving nothing) on failure. */
  async upload(key: string, body: ReadableStream<Uint8Array>, options: UploadOptions = {}): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType,
        Metadata: options.metadata,
        ...sseParams(this.s3),
      },
      partSize: options.partSize ?? 8 * 1024 * 1024,
      queueSize: 2,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      // The body's own error (a size limit, say) is the caller's, not S3's.
      const cause = (err as { cause?: unknown })?.cause;
      throw storageError(cause instanceof AppError ? cause : err, this.s3, key);
    }
  }

  /**
   * Opens `key` as a stream, or the bytes `range` names (both ends inclusive). A missing object is
   * NOT_FOUND naming the key; a range S3 cannot satisfy is RANGE_NOT_SATISFIABLE.
   */
  async download(key: string, range?: { start: number; end: number }): Promise<ObjectDownload> {
    try {
      const r = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      const body = r.Body as { transformToWebStream(): ReadableStream<Uint8Array> } | undefined;
      if (!body) throw new Error("S3 returned no body");
      return {
        key,
        size: r.ContentLength ?? 0,
        metadata: r.Metadata ?? {},
        contentType: r.ContentType,
        lastModified: r.LastModified,
        body: body.transformToWebStream(),
        contentRange: r.ContentRange,
      };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (range && (e.name === "InvalidRange" || e.$metadata?.httpStatusCode === 416)) {
        throw new AppError(
          "RANGE_NOT_SATISFIABLE",
          `bytes ${range.start}-${range.end} are outside "${key}"`,
          {
            cause: err,
          },
        );
      }
      throw storageError(err, this.s3, key);
    }
  }

  /**
   * A presigned GET URL for `key`, valid `expiresIn` seconds, signed for the endpoint clients reach; the
   * response carries the given `Content-Disposition` and `Content-Type`.
   */
  async presignGet(
    key: string,
    options: { expiresIn: number; contentDisposition?: string; contentType?: string },
  ): Promise<string> {
    try {
      return await getSignedUrl(
        this.presigner,
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ResponseContentDisposition: options.contentDisposition,
          ResponseContentType: options.contentType,
        }),
        { expiresIn: options.expiresIn },
      );
    } catch (err) {
      throw storageError(err, this.s3, key);
    }
  }

  /**
   * Copies `from` to `to` inside the bucket (server-side; the bytes do not travel), with `replace`: new user
   * metadata and content type instead of the source's.
   */
  async copy(
    from: string,
    to: string,
    replace?: { metadata: Record<string, string>; contentType?: string },
  ): Promise<void> {
    try {
      await this.client.send(
        new CopyObjectCommand({
          Bucket: this.bucket,
          Key: to,
          CopySource: `${this.bucket}/${from.split("/").map(encodeURIComponent).join("/")}`,
          ...(replace
            ? { MetadataDirective: "REPLACE", Metadata: replace.metadata, ContentType: replace.contentType }
            : {}),
          ...sseParams(this.s3),
        }),
      );
    } catch (err) {
      throw storageError(err, this.s3, from);
    }
  }

  /**
   * A small object's bytes, or null when there is no such object; throws
   * (without reading on) when it is larger than `maxBytes`.
   */
  async readSmall(key: string, maxBytes: number): Promise<Uint8Array | null> {
    let r;
    try {
      r = await this.download(key);
    } catch (err) {
      if (err instanceof Error && "code" in err && (err as { code: string }).code === "NOT_FOUND") {
        return null;
      }
      throw err;
    }
    if (r.size > maxBytes) {
      await r.body.cancel().catch(() => {});
      throw new RangeError(`"${key}" is larger than ${maxBytes} bytes`);
    }
    const parts: Uint8Array[] = [];
    let n = 0;
    for await (const chunk of r.body) {
      n += chunk.length;
      if (n > maxBytes) throw new RangeError(`"${key}" is larger than ${maxBytes} bytes`);
      parts.push(chunk);
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  /** Writes a small object in one request. */
  async putBytes(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: bytes,
          ContentType: contentType,
          ...sseParams(this.s3),
        }),
      );
    } catch (err) {
      throw storageError(err, this.s3, key);
    }
  }

  /** Size and metadata of `key`, or null when there is no such object. */
  async head(key: string): Promise<ObjectInfo | null> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: r.ContentLength ?? 0,
        metadata: r.Metadata ?? {},
        contentType: r.ContentType,
        lastModified: r.LastModified,
      };
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NotFound" || e.name === "NoSuchKey") return null;
      if (e.$metadata?.httpStatusCode === 404 && e.name !== "NoSuchBucket") return null;
      throw storageError(err, this.s3, key);
    }
  }

  /**
   * Replaces the user metadata of `key` (a server-side copy onto itself; the
   * bytes do not travel). Used to record a checksum known only after upload.
   */
  async replaceMetadata(key: string, metadata: Record<string, string>, contentType?: string): Promise<void> {
    await this.copy(key, key, { metadata, contentType });
  }

  /** Deletes `key` (no error when it is already gone). */
  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      throw storageError(err, this.s3, key);
    }
  }

  /** Every object under `prefix`, page by page. */
  async *list(prefix: string): AsyncGenerator<ObjectInfo> {
    let token: string | undefined;
    do {
      let r;
      try {
        r = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (err) {
        throw storageError(err, this.s3);
      }
      for (const o of r.Contents ?? []) {
        yield { key: o.Key!, size: o.Size ?? 0, metadata: {}, lastModified: o.LastModified };
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  /**
   * Incomplete multipart uploads under `prefix` (a killed writer leaves its
   * parts billed until they are aborted). Null when the server does not
   * implement the listing (plain s3rver; the embedded server adds it).
   */
  async incompleteUploads(prefix: string): Promise<IncompleteUpload[] | null> {
    const out: IncompleteUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let r;
      try {
        r = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: prefix,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
        );
      } catch (err) {
        if ((err as { name?: string }).name === "NotImplemented") return null;
        throw storageError(err, this.s3);
      }
      for (const u of r.Uploads ?? []) {
        if (u.Key && u.UploadId) out.push({ key: u.Key, uploadId: u.UploadId, initiated: u.Initiated });
      }
      keyMarker = r.IsTruncated ? r.NextKeyMarker : undefined;
      uploadIdMarker = r.IsTruncated ? r.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return out;
  }

  /** Aborts a multipart upload (its parts are deleted; no error when it is already gone). */
  async abortUpload(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
      );
    } catch (err) {
      const e = err as { name?: string };
      if (e.name === "NoSuchUpload") return;
      throw storageError(err, this.s3, key);
    }
  }
}
