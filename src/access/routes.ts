/** Mounts every route of the security half: auth, users, roles, organizations, modules, AuthZEN. */
import type { AppDeps } from "../app.ts";
import { createRouter } from "../http/openapi.ts";
import type { AuthzenService } from "./authzen.ts";
import { authzenRoutes } from "./authzen_routes.ts";
import { authRoutes } from "../auth/auth_routes.ts";
import { moduleRoutes } from "../modules/module_routes.ts";
import { OrganizationsService } from "../tenants/organizations_service.ts";
import { organizationRoutes } from "../tenants/organizations_routes.ts";
import { RolesService } from "../roles/roles_service.ts";
import { rolesRoutes } from "../roles/roles_routes.ts";
import { UsersService } from "../users/users_service.ts";
import { usersRoutes } from "../users/users_routes.ts";

export function securityRoutes(deps: AppDeps, authzen: AuthzenService) {
  const app = createRouter();
  const base = { db: deps.db, audit: deps.audit, access: deps.access };
  app.route("/", authRoutes(deps));
  app.route("/", organizationRoutes({ access: deps.access, organizations: new OrganizationsService(base) }));
  app.route("/", usersRoutes({ access: deps.access, users: new UsersService(base) }));
  app.route("/", rolesRoutes({ access: deps.access, roles: new RolesService(base) }));
  app.route("/", moduleRoutes(deps));
  app.route("/", authzenRoutes({ ...deps, authzen }));
  return app;
}
