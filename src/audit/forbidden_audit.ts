/**
 * Every 403 reaches the audit log: the access guard records its own denials
 * (with layer and reason); this middleware records the others — refusals
 * decided by services after the guard passed (who may create whom, system
 * roles, record owners, …). Each 403 is audited once: a denial the guard (or
 * forward-auth) recorded is not recorded again.
 * Story: docs/access.md ("Audit").
 */
import type { Context, MiddlewareHandler } from "hono";
import type { HttpEnv } from "../http/types.ts";
import type { AuditService } from "./audit.ts";

const audited = new WeakSet<Context>();

/** Marks a request's denial as already audited (the guard calls it). */
export function markDenialAudited(c: Context): void {
  audited.add(c);
}

export function auditForbidden(audit: AuditService): MiddlewareHandler<HttpEnv> {
  return async (c, next) => {
    await next();
    if (c.res.status !== 403 || audited.has(c)) return;
    const auth = c.get("auth");
    const err = c.error as (Error & { code?: string; extra?: Record<string, unknown> }) | undefined;
    await audit.recordSafely({
      event: "access.denied",
      actorUserId: auth?.user.id ?? null,
      organizationId: auth?.organizationId ?? null,
      target: `${c.req.method} ${c.req.path}`,
      requestId: c.get("requestId"),
      details: { code: err?.code ?? null, message: err?.message ?? null, ...(err?.extra ?? {}) },
    });
  };
}
