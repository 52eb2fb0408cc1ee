/**
 * Cron expressions (croner) for BACKUP_SCHEDULE: parsing with an error that
 * names the expression, and the next runs. No I/O (config.ts validates with it).
 * Story: docs/operations.md ("Scheduled backups").
 */
import { Cron } from "croner";

/** Parses a schedule; throws an Error naming the expression and what is wrong. */
export function parseSchedule(expression: string, timezone = "UTC"): Cron {
  let cron: Cron;
  try {
    cron = new Cron(expression, { paused: true, timezone });
  } catch (err) {
    throw new Error(
      `"${expression}" is not a cron expression (${
        (err as Error).message
      }); e.g. "0 3 * * *" (daily at 03:00) or "0 */6 * * *"`,
    );
  }
  try {
    cron.nextRun(); // an unknown time zone fails here, not at the first slot
  } catch {
    throw new Error(`time zone "${timezone}" is not an IANA time zone (e.g. UTC, Europe/Berlin)`);
  }
  return cron;
}

/** The next `count` slots after `from`. */
export function nextRuns(expression: string, from: Date, count: number, timezone = "UTC"): Date[] {
  return parseSchedule(expression, timezone).nextRuns(count, from);
}
