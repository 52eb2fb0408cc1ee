/**
 * Makes a client-supplied filename safe to store and to echo back: no path
 * parts, no control characters, no leading dots, at most 255 bytes.
 */
export function sanitizeFilename(raw: string): string {
  // Keep only the last path segment, whichever separator the client used.
  let name = raw.split(/[/\\]/).pop() ?? "";
  // Control characters (C0, DEL, C1) and bidi overrides go.
  // deno-lint-ignore no-control-regex
  name = name.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "");
  name = name.replace(/\s+/g, " ").trim().replace(/^\.+/, "");
  while (new TextEncoder().encode(name).byteLength > 255) name = name.slice(0, -1);
  return name || "file";
}
