/** Hono context typing shared by every route and middleware. Story: docs/architecture.md. */
import type { Logger } from "../log.ts";

/** The authenticated user, as the access layer hands it to handlers. */
export interface Principal {
  id: number;
  email: string;
  /** Base role: super_admin | admin | manager | executive | a custom role's name. */
  role: string;
  /** null for platform super admins. */
  organizationId: number | null;
  isSuperAdmin: boolean;
  isCompanyAdmin: boolean;
}

/** What `requireAccess` (deps.access.guard) sets for a handler. */
export interface AuthContext {
  user: Principal;
  /**
   * The organization the request acts on: the user's own, or for a platform
   * super admin the one named by `X-Organization-Id` (null when none named).
   */
  organizationId: number | null;
  /**
   * The record scope the user has on the guarded module: `own` (records he
   * owns), `team` (his and his reports'), `all`. Repositories filter by it.
   */
  scope?: "own" | "team" | "all";
}

export interface HttpVariables {
  requestId: string;
  log: Logger;
  /** Set by the access guard on protected routes. */
  auth: AuthContext;
  /**
   * The request URL exactly as received, before any middleware re-made the request (`new Request(url)`
   * resolves `..` and `%2e%2e`): forward-auth's Envoy dialect reads the original path from it.
   */
  receivedUrl?: string;
  /** JSON_MAX_DEPTH, for the input rules of the routers' validation hooks (`src/http/input_rules.ts`). */
  maxJsonDepth?: number;
}

export interface HttpEnv {
  Variables: HttpVariables;
}
