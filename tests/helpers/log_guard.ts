/**
 * The test suite's log guard: the default logger of `testApp` writes every
 * line (at info, as production does) through a check that no line holds a
 * seeded e-mail address — or any e-mail address, or a failed query's
 * parameters. A leak throws at the call that logged it, naming the line.
 * Story: docs/reliability.md ("Logs").
 */
import { createLogger, type Logger } from "../../src/log.ts";
import { DEMO_USERS } from "../../seeders/demo_data.ts";
import { DEFAULT_SUPERADMIN_EMAIL, EXAMPLE_SUPERADMIN_EMAIL } from "../../seeders/super_admin.ts";

export const SEEDED_EMAILS = [
  DEFAULT_SUPERADMIN_EMAIL,
  EXAMPLE_SUPERADMIN_EMAIL,
  ...DEMO_USERS.map((u) => u.email),
];

const ANY_EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}/;

/** The personal data a log line holds, or null. */
export function personalDataIn(line: string): string | null {
  for (const e of SEEDED_EMAILS) if (line.includes(e)) return e;
  const email = ANY_EMAIL.exec(line);
  if (email) return email[0];
  const params = /params: (?!\[redacted\])[^"\\]{1,40}/.exec(line);
  return params ? params[0] : null;
}

/** A logger (info and above) that throws when a line would hold personal data. */
export function guardedLogger(): Logger {
  return createLogger("info", {}, (line) => {
    const found = personalDataIn(line);
    if (found) throw new Error(`a log line holds personal data (${found}): ${line.slice(0, 300)}`);
  });
}
