/**
 * The postgres.js client under a Drizzle database or transaction, for the
 * two things Drizzle does not stream: `COPY … TO STDOUT` (backup) and
 * `COPY … FROM STDIN` (restore). Null on libSQL and on embedded PGlite,
 * which take the generic (Drizzle) paths instead.
 * Story: docs/backups.md ("Design decisions, and why").
 */
import type { Database, Executor } from "./client.ts";
import {
  postgresJsClient,
  postgresJsOfTransaction,
  type QueryHooks,
  queryHooks,
} from "./driver_internals.ts";

/** A node Readable as postgres.js returns for COPY TO. */
export interface NodeReadable {
  on(event: "data", fn: (chunk: Uint8Array) => void): void;
  on(event: "end", fn: () => void): void;
  on(event: "error", fn: (err: Error) => void): void;
  pause(): void;
  resume(): void;
  destroy(err?: Error): void;
  _read?(size: number): void;
}

/** A node Writable as postgres.js returns for COPY FROM. */
export interface NodeWritable {
  write(chunk: string | Uint8Array, callback?: (err?: Error | null) => void): boolean;
  end(): void;
  once(event: "drain", fn: () => void): void;
  on(event: "error", fn: (err: Error) => void): void;
  destroy(err?: Error): void;
}

/** A postgres.js query: a promise of its result that can also be streamed. */
export interface PgQuery extends PromiseLike<unknown> {
  readable(): Promise<NodeReadable>;
  writable(): Promise<NodeWritable>;
  catch(fn: (err: unknown) => void): Promise<unknown>;
}

/** The part of postgres.js (`sql` or a transaction's `sql`) the backups use. */
export interface PostgresJs {
  unsafe(query: string): PgQuery;
  begin<T>(options: string, fn: (tx: PostgresJs) => Promise<T>): Promise<T>;
}

/** postgres.js behind `db` (the pool), or null. */
export function postgresJsOf(db: Database): PostgresJs | null {
  return postgresJsClient(db) as PostgresJs | null;
}

/** postgres.js of a Drizzle transaction (same connection as its statements), or null. */
export function postgresJsOfTx(db: Database, tx: Executor): PostgresJs | null {
  return postgresJsOfTransaction(db, tx) as PostgresJs | null;
}

/** A `COPY … FROM STDIN` in progress. */
export interface CopyIn {
  stream: NodeWritable;
  /** Settles when the server has finished the COPY: resolves on success, rejects with its error. */
  done: Promise<void>;
  error: unknown;
}

/**
 * Starts `COPY … FROM STDIN`. postgres.js resolves the query with the stream
 * as soon as COPY starts, and later reports the outcome through the query's
 * own resolve/reject (at ReadyForQuery) — which, the promise being settled
 * already, nobody would hear; an error arriving after the last write would be
 * lost and the stream never finish. So those two hooks are taken over to
 * give `done`, the COPY's real outcome. (postgres.js 3.4.x; the restore tests
 * inject failures at the start, middle and end of a COPY.)
 */
export async function openCopyIn(pg: PostgresJs, statement: string): Promise<CopyIn> {
  const unsafe = pg.unsafe(statement);
  const query = queryHooks(unsafe) as QueryHooks & PgQuery;
  const stream = await query.writable();
  const copy: CopyIn = { stream, done: Promise.resolve(), error: null };
  copy.done = new Promise<void>((resolve, reject) => {
    query.resolve = () => {
      query.active = false;
      resolve();
    };
    query.reject = (err) => {
      query.active = false;
      copy.error ??= err;
      reject(err);
    };
  });
  copy.done.catch(() => {}); // observed by endTable / insert / abort
  stream.on("error", (err) => (copy.error ??= err));
  return copy;
}
