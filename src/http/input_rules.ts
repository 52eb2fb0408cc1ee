/**
 * Rules every input obeys, whatever route or schema it arrives through: no
 * object or array nested deeper than JSON_MAX_DEPTH (32 by default: a body
 * thousands of levels deep overflowed the stack of a recursive walk, a 500
 * that stalled the event loop for seconds); no U+0000 (NUL) in a string —
 * Postgres cannot store it in text (SQLSTATE 22021) or JSON (22P05) while
 * libSQL can, so without this rule the same request answered 201 on one
 * database and 500 on the other; and every string well-formed Unicode, no lone
 * UTF-16 surrogate (U+D800–U+DFFF, which JSON can spell `\ud800`) — Postgres
 * refuses one in JSON (22P02, a 500) while libSQL stores it, and text columns
 * on both silently stored U+FFFD instead. The rules run on every validated
 * value (`createRouter`'s hook: JSON bodies, query strings, path parameters,
 * headers; the AuthZEN routes' hook; the files upload's `metadata` field) —
 * keys of objects included — and the database error mapping
 * (`src/db/errors.ts`) is the net behind them for anything read without a
 * schema. Backups are held to the same rule on restore (`src/backups/format.ts`).
 * Story: docs/access.md ("Limits").
 */
import { z } from "zod";

export const NUL_MESSAGE = "must not contain the NUL character (U+0000)";

export const SURROGATE_MESSAGE = "must be well-formed Unicode (no lone surrogate U+D800–U+DFFF)";

/**
 * A `\uD800`…`\uDFFF` escape in JSON text (either case): the only way text decoded from UTF-8 can spell a
 * lone surrogate, so text without one needs no check for them (a pair's escapes match too).
 */
export const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** JSON_MAX_DEPTH's default: objects and arrays nested deeper than this are refused. */
export const DEFAULT_MAX_JSON_DEPTH = 32;

export const depthMessage = (max: number) => `must not nest objects or arrays more than ${max} levels deep`;

/** What the input rules find wrong with a value. */
export interface InputRuleViolations {
  /** The paths (`a.b.0`) of every string, or object key, that holds U+0000. */
  nul: string[];
  /** The paths of every string, or object key, that is not well-formed Unicode (a lone surrogate). */
  surrogate: string[];
  /** The path of the first object or array nested deeper than the limit (null: none). */
  tooDeep: string | null;
}

/** A path as a chain of links (a walk shares its parents: no copying per level). */
interface Link {
  parent: Link | null;
  key: string;
}

function pathOf(link: Link | null, key?: string): string {
  const keys: string[] = key === undefined ? [] : [key];
  for (let l = link; l; l = l.parent) keys.push(l.key);
  let path = keys.reverse().join(".");
  // Named, not echoed whole: an attacker's path may be long (cut before a surrogate pair, not inside it).
  if (path.length > 200) path = `${path.slice(0, path.codePointAt(199)! > 0xffff ? 199 : 200)}…`;
  // A lone surrogate in a key is named by its escape: the error itself stays well-formed Unicode.
  return path.isWellFormed() ? path : path.replace(/\p{Cs}/gu, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** True when `found` holds any violation. */
export function breaksInputRules(found: InputRuleViolations): boolean {
  return found.tooDeep !== null || found.nul.length > 0 || found.surrogate.length > 0;
}

/**
 * Walks `value` once, without recursion (linear in its size, whatever its depth): the strings and keys
 * that hold U+0000 or a lone surrogate, and the first object or array nested more than `maxDepth` levels
 * deep (the top-level value is level 1; the walk does not go below the limit).
 */
export function inputRuleViolations(value: unknown, maxDepth = DEFAULT_MAX_JSON_DEPTH): InputRuleViolations {
  const out: InputRuleViolations = { nul: [], surrogate: [], tooDeep: null };
  const stack: { value: unknown; link: Link | null; depth: number }[] = [{ value, link: null, depth: 0 }];
  while (stack.length) {
    const { value: v, link, depth } = stack.pop()!;
    if (typeof v === "string") {
      if (v.includes("\u0000")) out.nul.push(pathOf(link));
      if (!v.isWellFormed()) out.surrogate.push(pathOf(link));
      continue;
    }
    if (v === null || typeof v !== "object" || v instanceof Date) continue;
    if (depth + 1 > maxDepth) {
      out.tooDeep ??= pathOf(link);
      continue;
    }
    const entries: [string, unknown][] = Array.isArray(v)
      ? v.map((x, i) => [String(i), x])
      : Object.entries(v as Record<string, unknown>);
    if (!Array.isArray(v)) {
      for (const [k] of entries) {
        if (k.includes("\u0000")) out.nul.push(pathOf(link, k.replaceAll("\u0000", "\\u0000")));
        if (!k.isWellFormed()) out.surrogate.push(pathOf(link, k));
      }
    }
    // Pushed in reverse: fields are reported in document order.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, x] = entries[i];
      stack.push({ value: x, link: { parent: link, key: k }, depth: depth + 1 });
    }
  }
  return out;
}

/** The paths (`a.b.0`) of every string in `value`, or object key, that holds U+0000. */
export function nulFields(value: unknown): string[] {
  return inputRuleViolations(value, Infinity).nul;
}

/**
 * True when `text` (valid JSON) nests objects or arrays more than `maxDepth` levels deep. Counts the
 * brackets first (no deeper than their number), so an ordinary body costs one pass over its characters.
 */
export function jsonTextTooDeep(text: string, maxDepth = DEFAULT_MAX_JSON_DEPTH): boolean {
  let opens = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 123 || ch === 91) opens++;
  }
  if (opens <= maxDepth) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92) i++;
      else if (ch === 34) inString = false;
    } else if (ch === 34) inString = true;
    else if (ch === 123 || ch === 91) {
      if (++depth > maxDepth) return true;
    } else if (ch === 125 || ch === 93) depth--;
  }
  return false;
}

/** A zod string that refuses U+0000 and lone surrogates (for schemas outside the routers' hook). */
export const safeString = () =>
  z.string().refine((s) => !s.includes("\u0000"), NUL_MESSAGE).refine(
    (s) => s.isWellFormed(),
    SURROGATE_MESSAGE,
  );

/**
 * Ids and `int` fields are 32-bit integer columns (Postgres `integer`): a larger number is a 422 naming the
 * field, not the database's out-of-range error (a 500 on Postgres, stored on libSQL).
 */
export const MAX_INT32 = 2_147_483_647;
export const MIN_INT32 = -2_147_483_648;

/** A row id in a JSON body. */
export const idNumber = () => z.number().int().positive().max(MAX_INT32);

/** A row id in a path or query string (text read as a number). */
export const idText = () => z.coerce.number().int().positive().max(MAX_INT32);

/** True for a positive integer an id column can hold. */
export const isInt32Id = (n: unknown): n is number =>
  Number.isSafeInteger(n) && (n as number) > 0 && (n as number) <= MAX_INT32;
