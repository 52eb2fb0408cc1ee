/**
 * The password strength rule for new passwords (change, user creation):
 * 12–128 characters, at least three of lower case / upper case / digit /
 * symbol, not the account's email or its local part, not a well-known password.
 * Default credentials of the seeds (`password123`, `SuperAdmin@123`) predate
 * this rule; accounts created with them are flagged to change their password.
 * Story: docs/access.md ("Authentication").
 */
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_NEW_PASSWORD_LENGTH = 128;

const COMMON = new Set([
  "password1234",
  "password123!",
  "passw0rd1234",
  "qwertyuiop12",
  "123456789012",
  "administrator",
  "superadmin@123",
  "welcome12345",
  "changeme1234",
  "letmein12345",
  "iloveyou1234",
]);

/** Returns the problems with a proposed password (empty when it is acceptable). */
export function passwordProblems(password: string, email?: string): string[] {
  const problems: string[] = [];
  if (password.length < MIN_PASSWORD_LENGTH) {
    problems.push(`must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  if (password.length > MAX_NEW_PASSWORD_LENGTH) {
    problems.push(`must be at most ${MAX_NEW_PASSWORD_LENGTH} characters`);
  }
  const classes = [/[a-z]/, /[A-Z]/, /[0-9]/, /[^A-Za-z0-9]/].filter((r) => r.test(password)).length;
  if (classes < 3) {
    problems.push("must contain at least three of: lower-case letters, upper-case letters, digits, symbols");
  }
  const lower = password.toLowerCase();
  if (COMMON.has(lower)) problems.push("is a well-known password");
  if (email) {
    const e = email.toLowerCase();
    const local = e.split("@")[0];
    if (lower.includes(e)) problems.push("must not contain the account's e-mail address");
    else if (local.length >= 4 && lower.includes(local)) {
      // Say what matched: the part before the @ (SuperAdmin@123 for admin@foodfleet.com), not the address.
      problems.push(`must not contain the account's e-mail name (${local})`);
    }
  }
  if (/^(.)\1+$/.test(password)) problems.push("must not repeat a single character");
  return problems;
}
