/**
 * Client-supplied file names made safe to store, to put in an S3 key and to echo back (`sanitizeFilename`),
 * and cut to a number of UTF-8 bytes (`truncateUtf8`). Must never let a path part, a control character or a
 * lone surrogate through, nor cut inside a character. Story: docs/api.md.
 */
/** The longest name a file system will take for one path segment (NAME_MAX), in UTF-8 bytes. */
export const MAX_FILENAME_BYTES = 255;
/** An extension longer than this is not one: it is cut with the rest of the name. */
const MAX_EXTENSION_BYTES = 32;

const encoder = new TextEncoder();
const utf8Length = (s: string) => encoder.encode(s).byteLength;
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/**
 * The longest prefix of `s` that fits in `maxBytes` of UTF-8. Cuts between
 * user-perceived characters (grapheme clusters), never inside one — and so
 * never inside a multi-byte character or a surrogate pair. A first cluster
 * too long on its own is cut between code points instead.
 */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (utf8Length(s) <= maxBytes) return s;
  let out = "";
  let used = 0;
  for (const { segment } of graphemes.segment(s)) {
    const n = utf8Length(segment);
    if (used + n > maxBytes) {
      if (out !== "") break;
      for (const cp of segment) {
        const m = utf8Length(cp);
        if (used + m > maxBytes) break;
        out += cp;
        used += m;
      }
      break;
    }
    out += segment;
    used += n;
  }
  return out;
}

/**
 * Makes a client-supplied filename safe to store and to echo back: no path
 * parts, no control characters, no lone surrogates, no leading dots, at most `maxBytes` bytes of
 * UTF-8 (255 by default). A long name is shortened before its extension,
 * which is kept, and never inside a character.
 */
export function sanitizeFilename(raw: string, maxBytes = MAX_FILENAME_BYTES): string {
  // Keep only the last path segment, whichever separator the client used; a lone UTF-16 surrogate (a
  // multipart `filename*=utf-16le''…` can carry one) becomes U+FFFD, as the S3 key and JSON need.
  let name = (raw.split(/[/\\]/).pop() ?? "").toWellFormed();
  // Control characters (C0, DEL, C1) and bidi overrides go.
  // deno-lint-ignore no-control-regex
  name = name.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "");
  name = name.replace(/\s+/g, " ").trim().replace(/^\.+/, "");
  if (utf8Length(name) > maxBytes) {
    const dot = name.lastIndexOf(".");
    let ext = dot > 0 ? name.slice(dot) : "";
    if (utf8Length(ext) > Math.min(MAX_EXTENSION_BYTES, maxBytes - 1) || /\s/.test(ext)) ext = "";
    const base = ext ? name.slice(0, dot) : name;
    const cut = truncateUtf8(base, maxBytes - utf8Length(ext)).replace(/[\s.]+$/, "");
    name = (cut || "file".slice(0, maxBytes - utf8Length(ext))) + ext;
  }
  return name || "file";
}
