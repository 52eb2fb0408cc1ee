/**
 * The decision log: every access decision — the REST guard, the AuthZEN API,
 * forward-auth — is counted in `seedbed_access_decisions_total` and, by
 * ACCESS_DECISION_LOG (`off`, `deny`, `all`; allows sampled by
 * ACCESS_DECISION_LOG_SAMPLE), written as one JSON line
 * `{"event":"access_decision", subject, organization_id, module, action,
 * resource, decision, layer, reason, request_id, …}` on stdout, like
 * Cerbos's decision log. The container's log driver carries it to
 * CloudWatch (docs/operations.md).
 *
 * Must never break: recording never throws into the request and never
 * carries a credential (subjects are ids, never tokens or keys' secrets).
 * Story: docs/operations.md ("The decision log").
 */
import type { Logger } from "../log.ts";
import type { Metrics } from "./metrics.ts";

export const DECISION_LOG_MODES = ["off", "deny", "all"] as const;
export type DecisionLogMode = typeof DECISION_LOG_MODES[number];

export interface DecisionEvent {
  source: "guard" | "authzen" | "forward_auth";
  allowed: boolean;
  /** Who asked or acted: a user id, a service key's prefix, or nobody (a refused credential). */
  subject: { type: "user" | "service_key" | "anonymous"; id: string | null };
  organizationId: number | null;
  module?: string;
  action?: string;
  /** `module:crm`, `crm_lead:42`, or the original `METHOD /path` for forward-auth. */
  resource?: string;
  layer?: string;
  reason?: string;
  requestId?: string;
  /** AuthZEN: the PEP that asked (a service key's prefix or the calling user's id), when not the subject. */
  caller?: string;
}

export class DecisionLog {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics | undefined,
    private readonly mode: DecisionLogMode,
    private readonly sampleAllows = 1,
    private readonly random: () => number = Math.random,
  ) {}

  record(e: DecisionEvent): void {
    try {
      this.metrics?.decisions.inc({
        source: e.source,
        decision: e.allowed ? "allow" : "deny",
        layer: e.layer ?? (e.allowed ? "none" : "unknown"),
        reason: e.reason ?? (e.allowed ? "allowed" : "unknown"),
      });
      if (!this.#logs(e.allowed)) return;
      this.logger.info("access_decision", {
        source: e.source,
        decision: e.allowed ? "allow" : "deny",
        subject_type: e.subject.type,
        subject_id: e.subject.id,
        organization_id: e.organizationId,
        module: e.module ?? null,
        action: e.action ?? null,
        resource: e.resource ?? null,
        layer: e.layer ?? null,
        reason: e.reason ?? null,
        request_id: e.requestId ?? null,
        ...(e.caller ? { caller: e.caller } : {}),
      });
    } catch { /* a decision is never failed by its log */ }
  }

  #logs(allowed: boolean): boolean {
    if (this.mode === "off") return false;
    if (!allowed) return true;
    if (this.mode === "deny") return false;
    return this.sampleAllows >= 1 || this.random() < this.sampleAllows;
  }
}
