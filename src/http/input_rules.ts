/**
 * Rules every input string obeys, whatever route or schema it arrives
 * through: no U+0000 (NUL). Postgres cannot store it in text (SQLSTATE
 * 22021) or JSON (22P05) while libSQL can, so without this rule the same
 * request answered 201 on one database and 500 on the other. The rule runs on
 * every validated value (`createRouter`'s hook: JSON bodies, query strings,
 * path parameters, headers; the AuthZEN routes' hook) — keys of objects
 * included — and the database error mapping (`src/db/errors.ts`) is the net
 * behind it for anything read without a schema. Story: docs/access.md
 * ("Limits").
 */
import { z } from "zod";

export const NUL_MESSAGE = "must not contain the NUL character (U+0000)";

/** The paths (`a.b.0`) of every string in `value`, or object key, that holds U+0000. */
export function nulFields(value: unknown, path: string[] = [], out: string[] = []): string[] {
  if (typeof value === "string") {
    if (value.includes("\u0000")) out.push(path.join("."));
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => nulFields(v, [...path, String(i)], out));
  } else if (value !== null && typeof value === "object" && !(value instanceof Date)) {
    for (const [k, v] of Object.entries(value)) {
      if (k.includes("\u0000")) out.push([...path, k.replaceAll("\u0000", "\\u0000")].join("."));
      nulFields(v, [...path, k], out);
    }
  }
  return out;
}

/** A zod string that refuses U+0000 (for schemas outside the routers' hook). */
export const safeString = () => z.string().refine((s) => !s.includes("\u0000"), NUL_MESSAGE);
