/**
 * The registry test's detector of hand-written lists of modules and tables (tests/modules/registry_test.ts).
 *
 * A hand list is code: `["crm", "sales", "inventory"]`, `[t.crmLeads, t.hrEmployees, …]`, `{ CRM: true, … }`
 * or SQL naming tables. Prose is not: comments, help texts and messages name modules as examples
 * (`e.g. "bookings"`, `restaurant_id:ref:restaurants`), and a user's new module may be named like any English
 * word those texts use. So the source is split into code, string literals and comments first, and a name
 * counts only where code uses it:
 *
 * - a string literal that is exactly the name (`"crm"`, `'crm_leads'`, `"CRM"`);
 * - a distinctive identifier in code (`crmLeads`, `crm_leads`, `CRM`: it has an upper-case letter or `_`);
 * - a plain lower-case word (`restaurants`) only as a table of the schema (`t.restaurants`,
 *   `pgSchema.restaurants`), since `page.items` or a variable `bookings` is no list;
 * - a table after an SQL keyword inside a string (`FROM menus`, `INSERT INTO "menus"`).
 */

export interface SourceParts {
  /** The source with comments and literals blanked (template expressions kept). */
  code: string;
  /** Every string literal's text, and every template literal's text parts. */
  strings: string[];
}

// After one of these (or at the start) a `/` begins a regular expression, elsewhere it divides.
const BEFORE_REGEX =
  /[(,=:[!&|?{};+\-*%<>~^]$|(?:^|[^\w$])(?:return|typeof|case|do|else|in|of|new|void|yield|await)$/;

/** Splits TypeScript source into code, literals and comments (enough of a lexer for the registry test). */
export function splitSource(src: string): SourceParts {
  let code = "";
  const strings: string[] = [];
  // Open template literals' `${` depths: a `}` at that depth resumes the template's text.
  const templates: number[] = [];
  let depth = 0;
  let i = 0;
  const template = () => {
    // Reads template text from i until "`" (closed) or "${" (an expression starts).
    let text = "";
    while (i < src.length) {
      const c = src[i];
      if (c === "\\") {
        text += src.slice(i, i + 2);
        i += 2;
      } else if (c === "`") {
        i++;
        strings.push(text);
        code += " ";
        return;
      } else if (c === "$" && src[i + 1] === "{") {
        i += 2;
        strings.push(text);
        code += " ${";
        templates.push(depth);
        depth++;
        return;
      } else {
        text += c;
        i++;
      }
    }
    strings.push(text);
  };
  while (i < src.length) {
    const c = src[i];
    const next = src[i + 1];
    if (c === "/" && next === "/") {
      const end = src.indexOf("\n", i);
      i = end < 0 ? src.length : end;
    } else if (c === "/" && next === "*") {
      const end = src.indexOf("*/", i + 2);
      i = end < 0 ? src.length : end + 2;
      code += " ";
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      let text = "";
      while (j < src.length && src[j] !== c && src[j] !== "\n") {
        if (src[j] === "\\") {
          text += src.slice(j, j + 2);
          j += 2;
        } else text += src[j++];
      }
      strings.push(text);
      code += " ";
      i = j + 1;
    } else if (c === "`") {
      i++;
      template();
    } else if (c === "/" && BEFORE_REGEX.test(code.trimEnd() || "(")) {
      // A regular expression literal: skip it (with its character classes), keep nothing.
      let j = i + 1;
      let inClass = false;
      while (j < src.length && src[j] !== "\n") {
        if (src[j] === "\\") j += 2;
        else if (src[j] === "[") inClass = true, j++;
        else if (src[j] === "]") inClass = false, j++;
        else if (src[j] === "/" && !inClass) break;
        else j++;
      }
      i = j + 1;
      while (/[a-z]/.test(src[i] ?? "")) i++;
      code += " ";
    } else if (c === "{") {
      depth++;
      code += c;
      i++;
    } else if (c === "}") {
      depth--;
      i++;
      if (templates.length && templates[templates.length - 1] === depth) {
        templates.pop();
        code += "}";
        template();
      } else code += c;
    } else {
      code += c;
      i++;
    }
  }
  return { code, strings };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const distinctive = (name: string) => /[A-Z_]/.test(name);

/** The `tables` (SQL names and `db.t` keys) that the source names in code. */
export function tablesInCode(parts: SourceParts, tables: readonly string[]): Set<string> {
  return new Set(tables.filter((t) => {
    const e = escape(t);
    if (parts.strings.some((s) => s === t)) return true;
    if (distinctive(t) && new RegExp(`(?<![\\w$])${e}(?![\\w$])`).test(parts.code)) return true;
    if (new RegExp(`(?:\\bt|[sS]chema)\\s*\\.\\s*${e}(?![\\w$])`).test(parts.code)) return true;
    const sql = new RegExp(`\\b(?:FROM|INTO|UPDATE|TABLE|JOIN)\\s+(?:IF (?:NOT )?EXISTS\\s+)?["\`]?${e}\\b`);
    return parts.strings.some((s) => sql.test(s));
  }));
}

/** The module keys that the source names in code: `"crm"` or seed 000's upper-case flags (`CRM: true`). */
export function modulesInCode(parts: SourceParts, modules: readonly string[]): Set<string> {
  return new Set(modules.filter((m) => {
    const upper = m.toUpperCase();
    if (parts.strings.some((s) => s === m || s === upper)) return true;
    return new RegExp(`(?<![\\w$])${escape(upper)}(?![\\w$])`).test(parts.code);
  }));
}
